"""Analytics jobs run in a process of their own, so a worker's event loop never does their
computing (and never imports their libraries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable

from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.analytics")


async def run_module(module: str, timeout_s: float) -> str:
    """Run `python -m module`; returns the line it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{module} exited {process.returncode}: {err.decode()[-300:]}")
    return out.decode().strip()


async def run_when_due(
    event: str,
    module: str,
    timeout_s: float,
    due: Callable[[], Awaitable[bool]],
    first_check_s: float,
    interval_s: float,
) -> None:
    """A worker's loop: every `interval_s` (the first soon after start), ask `due` and, if
    so, run the job; a failure (the database down) is logged and tried again next round."""
    await asyncio.sleep(min(first_check_s, interval_s))
    while True:
        try:
            if await due():
                log_event(logger, event, outcome=await run_module(module, timeout_s))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_event(logger, f"{event}_failed", logging.WARNING, error=type(exc).__name__)
        await asyncio.sleep(interval_s)
