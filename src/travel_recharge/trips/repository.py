"""SQL of the trips feature."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.models import Route, Trip


async def trip_by_tap_id(session: AsyncSession, tap_id: uuid.UUID) -> Trip | None:
    return await session.scalar(select(Trip).where(Trip.tap_id == tap_id))


async def tap_at_validator_near(
    session: AsyncSession, card_id: int, validator_id: str, at: datetime, window: timedelta
) -> Trip | None:
    """The card's tap at this validator within `window` of `at` (a double tap), if any."""
    return await session.scalar(
        select(Trip)
        .where(
            Trip.card_id == card_id,
            Trip.validator_id == validator_id,
            Trip.event_time.between(at - window, at + window),
        )
        .order_by(Trip.event_time.desc())
        .limit(1)
    )


async def taps_between(
    session: AsyncSession, card_id: int, start: datetime, end: datetime
) -> Sequence[Trip]:
    rows = await session.scalars(
        select(Trip)
        .where(Trip.card_id == card_id, Trip.event_time.between(start, end))
        .order_by(Trip.event_time)
    )
    return rows.all()


async def benefit_trips_between(
    session: AsyncSession, card_id: int, start: datetime, end: datetime
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Trip)
        .where(
            Trip.card_id == card_id,
            Trip.benefit_trip_used,
            Trip.event_time >= start,
            Trip.event_time < end,
        )
    )
    return int(count or 0)


async def add_trip(session: AsyncSession, trip: Trip) -> Trip:
    session.add(trip)
    await session.flush()
    return trip


async def lock_trip(session: AsyncSession, trip_id: int) -> Trip | None:
    return await session.scalar(select(Trip).where(Trip.id == trip_id).with_for_update())


async def end_trip(session: AsyncSession, trip_id: int, station_id: int, at: datetime) -> None:
    await session.execute(
        update(Trip).where(Trip.id == trip_id).values(end_station_id=station_id, ended_at=at)
    )


async def route_code_of(session: AsyncSession, route_id: int | None) -> str | None:
    if route_id is None:
        return None
    return await session.scalar(select(Route.code).where(Route.id == route_id))


async def trips_of_card(
    session: AsyncSession, card_id: int, limit: int, offset: int
) -> list[tuple[Trip, str | None]]:
    result = await session.execute(
        select(Trip, Route.code)
        .outerjoin(Route, Route.id == Trip.route_id)
        .where(Trip.card_id == card_id)
        .order_by(Trip.event_time.desc(), Trip.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(trip, code) for trip, code in result.all()]
