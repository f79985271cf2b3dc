"""SQL of analytics: every query reads a rollup table, never trips."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import InstrumentedAttribute

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    Locality,
    RollupHour,
    RollupStationDay,
    RollupTotal,
    RollupUsers,
    Station,
    User,
)

Totals = tuple[int, int, int]  # trips, completed trips, revenue


async def user_counts(session: ReadSession) -> tuple[int, int]:
    row = (
        await session.execute(
            select(RollupUsers.total_users, RollupUsers.active_users).where(RollupUsers.id == 1)
        )
    ).one()
    return int(row.total_users), int(row.active_users)


async def latest_user(session: ReadSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(User.id, User.full_name)
            .order_by(User.registered_at.desc(), User.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.id), str(row.full_name))


def _sum(column: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(column), 0)


async def totals(session: ReadSession) -> Totals:
    row = (
        await session.execute(
            select(
                _sum(RollupTotal.trips),
                _sum(RollupTotal.completed_trips),
                _sum(RollupTotal.revenue),
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def totals_by_locality(session: ReadSession) -> list[tuple[str, str, int, int, int]]:
    """(code, name, trips, completed, revenue) for every locality, zero when it has no trips."""
    sums = (
        select(
            RollupTotal.locality_code,
            func.sum(RollupTotal.trips).label("trips"),
            func.sum(RollupTotal.completed_trips).label("completed"),
            func.sum(RollupTotal.revenue).label("revenue"),
        )
        .group_by(RollupTotal.locality_code)
        .subquery()
    )
    query = _every_locality(sums, "trips", "completed", "revenue")
    rows = (await session.execute(query)).all()
    return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def _every_locality(sums: Subquery, *columns: str) -> Select[*tuple[Any, ...]]:
    """Code, name and `columns` of `sums` (keyed by locality_code) for every locality, in code
    order, zero where `sums` has no row."""
    values = [func.coalesce(sums.c[column], 0) for column in columns]
    return (
        select(Locality.code, Locality.name, *values)
        .outerjoin(sums, sums.c.locality_code == Locality.code)
        .order_by(Locality.code)
    )


async def trips_by_hour(
    session: ReadSession, start: date, end: date, service_kind: str | None
) -> dict[int, int]:
    query = (
        select(RollupHour.hour, func.sum(RollupHour.trips))
        .where(RollupHour.day.between(start, end))
        .group_by(RollupHour.hour)
    )
    if service_kind is not None:
        query = query.where(RollupHour.service_kind == service_kind)
    return {int(hour): int(trips) for hour, trips in (await session.execute(query)).all()}


async def by_day(session: ReadSession, start: date, end: date) -> list[tuple[date, int, int]]:
    """(day, trips, revenue) for each day of the range that had trips."""
    query = (
        select(RollupHour.day, func.sum(RollupHour.trips), func.sum(RollupHour.revenue))
        .where(RollupHour.day.between(start, end))
        .group_by(RollupHour.day)
        .order_by(RollupHour.day)
    )
    return [(d, int(t), int(r)) for d, t, r in (await session.execute(query)).all()]


async def by_service_kind(
    session: ReadSession, start: date, end: date
) -> list[tuple[str, int, int, int, int, int]]:
    """(service kind, trips, transfers, credit trips, benefit trips, revenue) in the range."""
    query = (
        select(
            RollupHour.service_kind,
            func.sum(RollupHour.trips),
            func.sum(RollupHour.transfers),
            func.sum(RollupHour.credit_trips),
            func.sum(RollupHour.benefit_trips),
            func.sum(RollupHour.revenue),
        )
        .where(RollupHour.day.between(start, end))
        .group_by(RollupHour.service_kind)
        .order_by(RollupHour.service_kind)
    )
    return [
        (str(k), int(t), int(x), int(c), int(b), int(r))
        for k, t, x, c, b, r in (await session.execute(query)).all()
    ]


async def top_stations(
    session: ReadSession, start: date, end: date, limit: int
) -> list[tuple[int, str, str, int, int]]:
    """(station id, code, name, boardings, revenue), busiest first."""
    sums = (
        select(
            RollupStationDay.station_id,
            func.sum(RollupStationDay.trips).label("trips"),
            func.sum(RollupStationDay.revenue).label("revenue"),
        )
        .where(RollupStationDay.day.between(start, end))
        .group_by(RollupStationDay.station_id)
        .subquery()
    )
    query = (
        select(Station.id, Station.code, Station.name, sums.c.trips, sums.c.revenue)
        .join(sums, sums.c.station_id == Station.id)
        .order_by(sums.c.trips.desc(), Station.code)
        .limit(limit)
    )
    return [
        (int(i), str(c), str(n), int(t), int(r))
        for i, c, n, t, r in (await session.execute(query)).all()
    ]


async def day_by_hour(session: ReadSession, day: date) -> dict[int, tuple[int, int, int, int]]:
    """hour -> (trips, transfers, credit trips, revenue) of one local day, hours with trips."""
    query = (
        select(
            RollupHour.hour,
            func.sum(RollupHour.trips),
            func.sum(RollupHour.transfers),
            func.sum(RollupHour.credit_trips),
            func.sum(RollupHour.revenue),
        )
        .where(RollupHour.day == day)
        .group_by(RollupHour.hour)
    )
    return {
        int(hour): (int(t), int(x), int(c), int(r))
        for hour, t, x, c, r in (await session.execute(query)).all()
    }


async def station_day_by_locality(
    session: ReadSession, day: date
) -> list[tuple[str, str, int, int]]:
    """(code, name, boardings, revenue) at trunk, portal and cable stations on one local day,
    for every locality, zero when it had none."""
    sums = (
        select(
            Station.locality_code,
            func.sum(RollupStationDay.trips).label("trips"),
            func.sum(RollupStationDay.revenue).label("revenue"),
        )
        .join(Station, Station.id == RollupStationDay.station_id)
        .where(RollupStationDay.day == day)
        .group_by(Station.locality_code)
        .subquery()
    )
    query = _every_locality(sums, "trips", "revenue")
    return [(str(c), str(n), int(t), int(r)) for c, n, t, r in (await session.execute(query)).all()]
