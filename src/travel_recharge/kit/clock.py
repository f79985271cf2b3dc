"""The wall clock as something a worker is given, not something its views reach for.

A view whose answer depends on the time of day (the live dashboard's "today") reads the
clock its worker was made with; the served app gets the real one, and a test can make an app
whose day is one of its choosing, so no verdict depends on the hour the suite runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, in UTC: the clock of every served app."""
    return datetime.now(UTC)


def local_days(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants [start, end) of the local days first..last, both included."""
    start = datetime.combine(first, time(), zone)
    return start, datetime.combine(last + timedelta(days=1), time(), zone)
