"""The wall clock as something a worker is given, not something its views reach for.

A view whose answer depends on the time of day (the live dashboard's "today") reads the
clock its worker was made with; the served app gets the real one, and a test can make an app
whose day is one of its choosing, so no verdict depends on the hour the suite runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, in UTC: the clock of every served app."""
    return datetime.now(UTC)
