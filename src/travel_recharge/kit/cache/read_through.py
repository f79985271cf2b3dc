"""Read-through with generation tokens and stampede protection across processes.

Of the callers that miss one view at the same time, on any worker or machine, one (the holder
of a short Redis lock) runs the loader; the others poll for its fill for a bounded time, then
run the loader themselves: nobody waits unboundedly and nobody fails because of Redis. Inside
one process the callers that saw the same generation share one load. The Lua scripts and the
key layout are in cache.scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, cast

from redis.asyncio import Redis

from travel_recharge.kit.cache import scripts
from travel_recharge.kit.cache.breaker import CacheUnavailable
from travel_recharge.kit.cache.stats import CacheStats
from travel_recharge.kit.cache.together import ScriptCall
from travel_recharge.kit.config import Settings

Load = Callable[[], Awaitable[bytes]]
T = TypeVar("T")


class GuardedRedis(Protocol):
    """What a read-through needs of the cache client (client.Cache): its connection, its
    counters, and calls guarded by its timeouts and circuit breaker."""

    redis: Redis

    @property
    def stats(self) -> CacheStats: ...

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T: ...


# A generation token outlives every cached value, so a value can only match the token
# written for it; only eviction or a flush can drop a token, and then values miss.
GENERATION_TTL_S = 86_400

# Waiting for another worker's fill: the first look comes soon (most loads take a few ms),
# later ones back off so a slow load is not hammered with lookups.
_FIRST_POLL_S = 0.005
_MAX_POLL_S = 0.05


@dataclass(frozen=True)
class StampedePolicy:
    """How callers that miss the same view share one recomputation."""

    lock_ttl_ms: int = 3_000  # a crashed recomputer blocks nobody for longer than this
    wait_s: float = 0.2  # the longest a caller waits for another's fill before computing
    stale_grace_s: int = 30  # how long an expired value stays servable (stale_ok views)

    @classmethod
    def from_settings(cls, settings: Settings) -> StampedePolicy:
        return cls(
            lock_ttl_ms=settings.cache_lock_ttl_ms,
            wait_s=settings.cache_fill_wait_ms / 1000,
            stale_grace_s=settings.cache_stale_grace_s,
        )


@dataclass(frozen=True)
class ViewKeys:
    generation: str
    value: str
    lock: str


@dataclass(frozen=True)
class _Lookup:
    state: Literal["hit", "expired", "miss"]
    token: bytes
    payload: bytes
    lock_value: bytes | None  # set when this caller holds the recompute lock


@dataclass(frozen=True)
class _View:
    """One read_through call: what to read, how to compute it and how long to keep it."""

    keys: ViewKeys
    bucket: str  # the stats namespace
    ttl_s: int
    load: Load
    stale_ok: bool


class ReadThrough:
    def __init__(self, cache: GuardedRedis, policy: StampedePolicy) -> None:
        self._cache = cache
        self.policy = policy
        self._lookup_script = cache.redis.register_script(scripts.LOOKUP)
        self._fill_script = cache.redis.register_script(scripts.FILL)
        self._release_script = cache.redis.register_script(scripts.RELEASE)
        self._peek_script = cache.redis.register_script(scripts.PEEK)
        # One load per view and generation in flight in this process; the others await it.
        self._flights: dict[tuple[str, bytes | None], asyncio.Future[bytes | None]] = {}

    async def read(
        self, keys: ViewKeys, bucket: str, ttl_s: int, load: Load, stale_ok: bool
    ) -> bytes:
        """See Cache.read_through."""
        view = _View(keys, bucket, ttl_s, load, stale_ok)
        stats = self._cache.stats
        try:
            found = await self._lookup(keys)
        except CacheUnavailable:
            stats.misses[bucket] += 1
            # Without a generation token, a load in flight may predate a write this caller has
            # already seen acknowledged: only views that accept staleness share one.
            if not stale_ok:
                return await self._compute(view)
            return await self._shared(view, (keys.value, None), lambda: self._compute(view))
        if found.state == "hit":
            stats.hits[bucket] += 1
            return found.payload
        stats.misses[bucket] += 1
        locked = found.lock_value is not None
        if found.state == "expired" and stale_ok and not locked:
            stats.served_stale[bucket] += 1
            return found.payload

        async def resolve() -> bytes:
            if locked:
                return await self._recompute(view, found)
            return await self._wait_for_fill(view, found)

        # The lock holder never waits on a local load: that one may be a mere poller, which
        # will find this holder's fill.
        return await self._shared(view, (keys.value, found.token), resolve, may_join=not locked)

    def peek_call(self, keys: ViewKeys) -> ScriptCall:
        """The script that returns the view's payload on a fresh hit and nil otherwise,
        changing nothing (scripts.PEEK), to send together with other scripts."""
        return ScriptCall(self._peek_script, (keys.generation, keys.value), ())

    async def _shared(
        self,
        view: _View,
        flight_key: tuple[str, bytes | None],
        work: Load,
        *,
        may_join: bool = True,
    ) -> bytes:
        """`work()`, unless this process is already running it for the same view and
        generation: then that run's result."""
        flight = self._flights.get(flight_key)
        if flight is not None and not may_join:
            return await work()
        if flight is not None:
            # Shielded: a follower whose request is cancelled must not cancel the others'.
            result = await asyncio.shield(flight)
            if result is not None:
                self._cache.stats.coalesced[view.bucket] += 1
                return result
            # The leading caller failed or was cancelled; its failure is its own (its client
            # may have gone away), so this caller loads for itself.
            return await self._compute(view)
        flight = asyncio.get_running_loop().create_future()
        self._flights[flight_key] = flight
        try:
            value = await work()
        except BaseException:
            flight.set_result(None)
            raise
        finally:
            del self._flights[flight_key]
        flight.set_result(value)
        return value

    async def _wait_for_fill(self, view: _View, found: _Lookup) -> bytes:
        """Poll for another caller's fill; take over the lock if its holder gives up; compute
        after the wait budget. A poll that Redis cannot answer ends the wait at once."""
        stats = self._cache.stats
        deadline = time.monotonic() + self.policy.wait_s
        pause = _FIRST_POLL_S
        while (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _MAX_POLL_S)
            try:
                found = await self._lookup(view.keys)
            except CacheUnavailable:
                break
            if found.state == "hit":
                stats.waited[view.bucket] += 1
                return found.payload
            if found.lock_value is not None:
                break
            if found.state == "expired" and view.stale_ok:
                stats.served_stale[view.bucket] += 1
                return found.payload
        else:
            stats.wait_timeouts[view.bucket] += 1
        return await self._recompute(view, found)

    async def _recompute(self, view: _View, found: _Lookup) -> bytes:
        """Run the loader and fill the view under the generation `found` saw, releasing the
        lock if this caller holds it (also when the loader fails, so a waiter takes over)."""
        try:
            value = await self._compute(view)
        except BaseException:
            if found.lock_value is not None:
                with contextlib.suppress(CacheUnavailable):
                    await self._release(view.keys, found.lock_value)
            raise
        await self._fill(view, found, value)
        return value

    async def _compute(self, view: _View) -> bytes:
        self._cache.stats.computed[view.bucket] += 1
        return await view.load()

    async def _lookup(self, keys: ViewKeys) -> _Lookup:
        owner = uuid.uuid4().hex

        async def run() -> list[bytes | int]:
            return cast(
                list[bytes | int],
                await self._lookup_script(
                    keys=[keys.generation, keys.value, keys.lock],
                    args=[owner, self.policy.lock_ttl_ms, uuid.uuid4().hex, GENERATION_TTL_S],
                ),
            )

        state, token, payload, locked = await self._cache.call(run)
        token = cast(bytes, token)
        return _Lookup(
            state=cast(Literal["hit", "expired", "miss"], cast(bytes, state).decode()),
            token=token,
            payload=cast(bytes, payload),
            lock_value=token + b"|" + owner.encode() if locked else None,
        )

    async def _fill(self, view: _View, found: _Lookup, value: bytes) -> None:
        ttl_ms = view.ttl_s * 1000
        keep_ms = ttl_ms + (self.policy.stale_grace_s * 1000 if view.stale_ok else 0)
        args: list[bytes | str | int] = [
            found.token,
            value,
            ttl_ms,
            keep_ms,
            GENERATION_TTL_S,
            found.lock_value or b"",
        ]
        keys = view.keys

        async def fill() -> object:
            return await self._fill_script(keys=[keys.generation, keys.value, keys.lock], args=args)

        with contextlib.suppress(CacheUnavailable):
            await self._cache.call(fill)

    async def _release(self, keys: ViewKeys, lock_value: bytes) -> None:
        async def release() -> object:
            return await self._release_script(keys=[keys.lock], args=[lock_value])

        await self._cache.call(release)
