"""A day of the tests' choosing for figures that depend on the time of day ("today").

Scenarios are placed in the evening of yesterday (Bogotá) and the routes that read the clock
are asked through an app whose clock (kit.clock) runs from there: whatever the hour the suite
runs, a scenario lies inside one local day, in the past, and within the offline window a tap
may carry (3 days).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.kit.clock import Clock

BOGOTA = ZoneInfo("America/Bogota")


def local_midnight(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(BOGOTA).date(), datetime.min.time(), tzinfo=BOGOTA)


def pinned_instant() -> datetime:
    """18:00:30 yesterday in Bogotá: "now" for scenarios placed up to 18 hours before it."""
    yesterday_evening = local_midnight(datetime.now(UTC)) - timedelta(hours=6)
    return (yesterday_evening + timedelta(seconds=30)).astimezone(UTC)


def running_from(start: datetime) -> Clock:
    """A clock that reads `start` now and runs on at the real pace: started at
    pinned_instant(), the minutes a test lasts stay inside that day's evening."""
    offset = datetime.now(UTC) - start
    return lambda: datetime.now(UTC) - offset
