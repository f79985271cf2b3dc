"""Waiting for the cluster by polling with a deadline: never a sleep that decides anything.

Servers take their own time to elect, replicate and answer (more on a loaded 2-core
machine); every wait here asks again until the answer is right or a generous deadline
passes, and then says what it was waiting for. The one polling helper of the drills and
the fault tests too (wait_until_async for a probe that awaits).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_INTERVAL_S = 0.5


class ClusterError(RuntimeError):
    """The cluster cannot do what was asked (already running, no such node, not healthy)."""


def wait_until(what: str, timeout_s: float, probe: Callable[[], T | None]) -> T:
    """The first truthy answer of `probe`; ClusterError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise ClusterError(f"gave up waiting {timeout_s:.0f} s for {what}")
        time.sleep(POLL_INTERVAL_S)


async def wait_until_async(
    what: str, timeout_s: float, probe: Callable[[], Awaitable[T | None]]
) -> T:
    """wait_until for a probe that awaits, without blocking the event loop between asks."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await probe()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise ClusterError(f"gave up waiting {timeout_s:.0f} s for {what}")
        await asyncio.sleep(POLL_INTERVAL_S)
