"""SQL of station performance: the station rollups (migrations 0006 and 0016), real riders only."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, select

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import RollupStationDay, RollupStationTimeline, Station


async def timelines(
    session: ReadSession, day: date, earlier: list[date]
) -> tuple[dict[int, dict[date, list[int]]], dict[int, list[int]]]:
    """In one read: station -> {day: its 24 hours' boardings} over `day` and `earlier` (a day
    missing had none), and station -> its 96 quarter hours' boardings on `day`."""
    timeline = RollupStationTimeline
    query = select(
        timeline.station_id,
        timeline.day,
        timeline.hours,
        case((timeline.day == day, timeline.quarters)),
    ).where(timeline.day.in_([day, *earlier]), timeline.simulated.is_(False))
    hours: dict[int, dict[date, list[int]]] = {}
    quarters: dict[int, list[int]] = {}
    for station, on, station_hours, station_quarters in (await session.execute(query)).all():
        hours.setdefault(station, {})[on] = station_hours
        if station_quarters is not None:
            quarters[station] = station_quarters
    return hours, quarters


async def weeks_boardings(session: ReadSession, day: date) -> tuple[dict[int, int], dict[int, int]]:
    """Station -> boardings over the 7 days ending on `day`, and over the 7 days before those
    (a station without any in a week is not in its dict)."""
    week_start = day - timedelta(days=6)
    boardings = RollupStationDay.trips
    query = (
        select(
            RollupStationDay.station_id,
            func.sum(boardings).filter(RollupStationDay.day >= week_start),
            func.sum(boardings).filter(RollupStationDay.day < week_start),
        )
        .where(
            RollupStationDay.day.between(day - timedelta(days=13), day),
            RollupStationDay.simulated.is_(False),
        )
        .group_by(RollupStationDay.station_id)
    )
    this_week: dict[int, int] = {}
    week_before: dict[int, int] = {}
    for station, now, before in (await session.execute(query)).all():
        if now is not None:
            this_week[station] = int(now)
        if before is not None:
            week_before[station] = int(before)
    return this_week, week_before


async def names(session: ReadSession, station_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Station -> (code, name)."""
    query = select(Station.id, Station.code, Station.name).where(Station.id.in_(station_ids))
    return {int(i): (code, name) for i, code, name in (await session.execute(query)).all()}
