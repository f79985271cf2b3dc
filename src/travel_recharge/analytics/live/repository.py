"""SQL of the live dashboard that reads trips: the only analytics queries that do.

Both read one time range through ix_trips_event_time (event_time INCLUDE card_id, migration
0005) as index-only scans: rollups keep neither minutes nor cards. A range is half-open,
[start, end), so adjacent ranges never count a tap twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, func, select

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Trip


async def taps_by_minute(
    session: ReadSession, start: datetime, end: datetime
) -> dict[datetime, int]:
    """UTC minute -> taps whose event_time falls in it, for the minutes of [start, end)
    that had any."""
    # Truncated in UTC explicitly, not in the session's TimeZone setting.
    minute = func.date_trunc("minute", Trip.event_time, "UTC", type_=DateTime(timezone=True))
    query = (
        select(minute, func.count())
        .where(Trip.event_time >= start, Trip.event_time < end)
        .group_by(minute)
    )
    return {m: int(n) for m, n in (await session.execute(query)).all()}


async def distinct_cards(session: ReadSession, start: datetime, end: datetime) -> int:
    """How many different cards tapped in [start, end)."""
    query = select(func.count(Trip.card_id.distinct())).where(
        Trip.event_time >= start, Trip.event_time < end
    )
    return int((await session.execute(query)).scalar_one())
