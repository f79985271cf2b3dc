"""SQL of station performance: the station rollups of migration 0012, real riders only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    RollupStationDay,
    RollupStationHour,
    RollupStationQuarter,
    Station,
)


async def days_with_boardings(session: ReadSession, days: list[date]) -> set[date]:
    """Which of `days` the network has any station boardings on (a day before the data
    began, or with the fare system down, is no history)."""
    query = (
        select(RollupStationDay.day)
        .where(RollupStationDay.day.in_(days), RollupStationDay.simulated.is_(False))
        .distinct()
    )
    return set((await session.scalars(query)).all())


async def hours(session: ReadSession, days: list[date]) -> dict[tuple[int, int], dict[date, int]]:
    """(station, hour) -> {day: boardings} over `days`; a missing day had none."""
    query = (
        select(
            RollupStationHour.station_id,
            RollupStationHour.hour,
            func.array_agg(RollupStationHour.day),
            func.array_agg(RollupStationHour.trips),
        )
        .where(RollupStationHour.day.in_(days), RollupStationHour.simulated.is_(False))
        .group_by(RollupStationHour.station_id, RollupStationHour.hour)
    )
    return {
        (int(station), int(hour)): dict(zip(on, map(int, trips), strict=True))
        for station, hour, on, trips in (await session.execute(query)).all()
    }


async def quarters(session: ReadSession, day: date) -> dict[int, list[int]]:
    """Station -> its 96 quarter hours' boardings on `day`."""
    query = (
        select(
            RollupStationQuarter.station_id,
            func.array_agg(RollupStationQuarter.quarter),
            func.array_agg(RollupStationQuarter.trips),
        )
        .where(RollupStationQuarter.day == day, RollupStationQuarter.simulated.is_(False))
        .group_by(RollupStationQuarter.station_id)
    )
    found: dict[int, list[int]] = {}
    for station, numbers, trips in (await session.execute(query)).all():
        day_quarters = [0] * 96
        for number, count in zip(numbers, trips, strict=True):
            day_quarters[number] = int(count)
        found[int(station)] = day_quarters
    return found


async def boardings(session: ReadSession, first: date, last: date) -> dict[int, int]:
    """Station -> boardings from `first` to `last` (inclusive)."""
    query = (
        select(RollupStationDay.station_id, func.sum(RollupStationDay.trips))
        .where(RollupStationDay.day.between(first, last), RollupStationDay.simulated.is_(False))
        .group_by(RollupStationDay.station_id)
    )
    return {int(s): int(t) for s, t in (await session.execute(query)).all()}


async def names(session: ReadSession, station_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Station -> (code, name)."""
    query = select(Station.id, Station.code, Station.name).where(Station.id.in_(station_ids))
    return {int(i): (code, name) for i, code, name in (await session.execute(query)).all()}
