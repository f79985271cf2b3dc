"""SQL of the live dashboard that reads trips: the only analytics queries that do.

Both read one time range through ix_trips_event_time (event_time INCLUDE card_id, migration
0005) as index-only scans: rollups keep neither minutes nor cards. A range is half-open,
[start, end), so adjacent ranges never count a tap twice. The traffic simulator's taps are
left out unless asked for, by the card: its cards are few (ix_cards_simulated holds only
them), so PostgreSQL hashes their ids once and the scan stays index-only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, func, select, true

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card, Trip


def _of_real_cards(include_simulated: bool) -> ColumnElement[bool]:
    if include_simulated:
        return true()
    return Trip.card_id.not_in(select(Card.id).where(Card.simulated))


async def taps_by_minute(
    session: ReadSession, start: datetime, end: datetime, include_simulated: bool = False
) -> dict[datetime, int]:
    """UTC minute -> taps whose event_time falls in it, for the minutes of [start, end)
    that had any."""
    # Truncated in UTC explicitly, not in the session's TimeZone setting.
    minute = func.date_trunc("minute", Trip.event_time, "UTC", type_=DateTime(timezone=True))
    query = (
        select(minute, func.count())
        .where(Trip.event_time >= start, Trip.event_time < end, _of_real_cards(include_simulated))
        .group_by(minute)
    )
    return {m: int(n) for m, n in (await session.execute(query)).all()}


async def distinct_cards(
    session: ReadSession, start: datetime, end: datetime, include_simulated: bool = False
) -> int:
    """How many different cards tapped in [start, end)."""
    query = select(func.count(Trip.card_id.distinct())).where(
        Trip.event_time >= start, Trip.event_time < end, _of_real_cards(include_simulated)
    )
    return int((await session.execute(query)).scalar_one())
