"""How many keys the namespace holds, counted once for every /cache/stats of a worker.

Counting is up to COUNT_SCANS SCAN round trips, one after the other: about 30 ms on an idle
worker, but 650-950 ms on a loaded one (measured under the suite's mixed load), where it
made /cache/stats the slowest answer of the service and the mixed run's p99. So the count is
shared: one count at a time per worker, reused while it is younger than FRESH_S, and once it
is older the last count answers (with its age) while the next one is made. Only a worker's
first count is waited for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from travel_recharge.kit.cache import Cache

# Beyond this many SCAN steps the count is a lower bound ("complete" is false).
COUNT_SCANS = 50
SCAN_COUNT = 1000
FRESH_S = 5.0


@dataclass(frozen=True)
class KeyCount:
    keys: int
    complete: bool
    age_s: float  # how long ago the count was made


@dataclass
class _Counted:
    keys: int = 0
    complete: bool = False
    at: float | None = None  # time.monotonic() of the last count; None: never counted
    counting: asyncio.Task[None] | None = None


_counts: WeakKeyDictionary[Cache, _Counted] = WeakKeyDictionary()


async def namespace_keys(cache: Cache, prefix: str) -> KeyCount:
    """The last count of keys starting with `prefix`; CacheUnavailable when a worker's first
    count cannot be made (a later failed count leaves the previous one in place)."""
    counted = _counts.setdefault(cache, _Counted())
    now = time.monotonic()
    stale = counted.at is None or now - counted.at >= FRESH_S
    if stale and (counted.counting is None or counted.counting.done()):
        counted.counting = asyncio.create_task(_count(cache, prefix, counted))
        # A failed count nobody waits for is not an error to report: the next one retries.
        counted.counting.add_done_callback(lambda task: task.cancelled() or task.exception())
    if counted.at is None:
        assert counted.counting is not None
        await asyncio.shield(counted.counting)
        assert counted.at is not None
    return KeyCount(counted.keys, counted.complete, max(0.0, time.monotonic() - counted.at))


async def _count(cache: Cache, prefix: str, counted: _Counted) -> None:
    keys, complete, cursor = 0, False, 0
    for _ in range(COUNT_SCANS):
        cursor, batch = await cache.scan(cursor, f"{prefix}*", SCAN_COUNT)
        keys += len(batch)
        if cursor == 0:
            complete = True
            break
    counted.keys, counted.complete, counted.at = keys, complete, time.monotonic()
