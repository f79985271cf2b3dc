"""SQL of analytics: every query reads a rollup table, never trips.

The traffic simulator's riders and taps are rows of their own in the rollups (their
`simulated` key); every figure leaves them out unless `include_simulated` asks for them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import InstrumentedAttribute

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    Locality,
    RollupDelta,
    RollupHour,
    RollupStationDay,
    RollupTotal,
    RollupUsers,
    Station,
    User,
)

Totals = tuple[int, int, int]  # trips, completed trips, revenue
Rollup = RollupTotal | RollupHour | RollupStationDay
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _real_only(query: Q, table: type[Rollup], include_simulated: bool) -> Q:
    """The query, left to the rows of real riders unless simulated ones are asked for."""
    return query if include_simulated else query.where(table.simulated.is_(False))


async def user_counts(session: ReadSession, include_simulated: bool) -> tuple[int, int]:
    row = (
        await session.execute(
            select(
                RollupUsers.total_users,
                RollupUsers.active_users,
                RollupUsers.simulated_users,
                RollupUsers.simulated_active_users,
            ).where(RollupUsers.id == 1)
        )
    ).one()
    if include_simulated:
        return int(row[0] + row[2]), int(row[1] + row[3])
    return int(row[0]), int(row[1])


async def latest_user(session: ReadSession, include_simulated: bool) -> tuple[int, str] | None:
    query = select(User.id, User.full_name)
    if not include_simulated:
        # The simulator registers its riders at its first start only, at most
        # TR_SIMULATOR_RIDERS of them: the walk down the index past them is bounded.
        query = query.where(User.simulated.is_(False))
    row = (
        await session.execute(query.order_by(User.registered_at.desc(), User.id.desc()).limit(1))
    ).first()
    return None if row is None else (int(row.id), str(row.full_name))


def _sum(column: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(column), 0)


async def totals(session: ReadSession, include_simulated: bool) -> Totals:
    query = select(
        _sum(RollupTotal.trips),
        _sum(RollupTotal.completed_trips),
        _sum(RollupTotal.revenue),
    )
    row = (await session.execute(_real_only(query, RollupTotal, include_simulated))).one()
    return int(row[0]), int(row[1]), int(row[2])


async def totals_by_locality(
    session: ReadSession, include_simulated: bool
) -> list[tuple[str, str, int, int, int]]:
    """(code, name, trips, completed, revenue) for every locality, zero when it has no trips."""
    sums = _real_only(
        select(
            RollupTotal.locality_code,
            func.sum(RollupTotal.trips).label("trips"),
            func.sum(RollupTotal.completed_trips).label("completed"),
            func.sum(RollupTotal.revenue).label("revenue"),
        ).group_by(RollupTotal.locality_code),
        RollupTotal,
        include_simulated,
    ).subquery()
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
    session: ReadSession,
    start: date,
    end: date,
    service_kind: str | None,
    include_simulated: bool,
) -> dict[int, int]:
    query = _real_only(
        select(RollupHour.hour, func.sum(RollupHour.trips))
        .where(RollupHour.day.between(start, end))
        .group_by(RollupHour.hour),
        RollupHour,
        include_simulated,
    )
    if service_kind is not None:
        query = query.where(RollupHour.service_kind == service_kind)
    return {int(hour): int(trips) for hour, trips in (await session.execute(query)).all()}


async def by_day(
    session: ReadSession, start: date, end: date, include_simulated: bool
) -> list[tuple[date, int, int]]:
    """(day, trips, revenue) for each day of the range that had trips."""
    query = _real_only(
        select(RollupHour.day, func.sum(RollupHour.trips), func.sum(RollupHour.revenue))
        .where(RollupHour.day.between(start, end))
        .group_by(RollupHour.day)
        .order_by(RollupHour.day),
        RollupHour,
        include_simulated,
    )
    return [(d, int(t), int(r)) for d, t, r in (await session.execute(query)).all()]


async def by_service_kind(
    session: ReadSession, start: date, end: date, include_simulated: bool
) -> list[tuple[str, int, int, int, int, int]]:
    """(service kind, trips, transfers, credit trips, benefit trips, revenue) in the range."""
    query = _real_only(
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
        .order_by(RollupHour.service_kind),
        RollupHour,
        include_simulated,
    )
    return [
        (str(k), int(t), int(x), int(c), int(b), int(r))
        for k, t, x, c, b, r in (await session.execute(query)).all()
    ]


async def top_stations(
    session: ReadSession, start: date, end: date, limit: int, include_simulated: bool
) -> list[tuple[int, str, str, int, int]]:
    """(station id, code, name, boardings, revenue), busiest first."""
    sums = _real_only(
        select(
            RollupStationDay.station_id,
            func.sum(RollupStationDay.trips).label("trips"),
            func.sum(RollupStationDay.revenue).label("revenue"),
        )
        .where(RollupStationDay.day.between(start, end))
        .group_by(RollupStationDay.station_id),
        RollupStationDay,
        include_simulated,
    ).subquery()
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


async def day_by_hour(
    session: ReadSession, day: date, include_simulated: bool
) -> dict[int, tuple[int, int, int, int]]:
    """hour -> (trips, transfers, credit trips, revenue) of one local day, hours with trips."""
    query = _real_only(
        select(
            RollupHour.hour,
            func.sum(RollupHour.trips),
            func.sum(RollupHour.transfers),
            func.sum(RollupHour.credit_trips),
            func.sum(RollupHour.revenue),
        )
        .where(RollupHour.day == day)
        .group_by(RollupHour.hour),
        RollupHour,
        include_simulated,
    )
    return {
        int(hour): (int(t), int(x), int(c), int(r))
        for hour, t, x, c, r in (await session.execute(query)).all()
    }


async def station_day_by_locality(
    session: ReadSession, day: date, include_simulated: bool
) -> list[tuple[str, str, int, int]]:
    """(code, name, boardings, revenue) at trunk, portal and cable stations on one local day,
    for every locality, zero when it had none."""
    sums = _real_only(
        select(
            Station.locality_code,
            func.sum(RollupStationDay.trips).label("trips"),
            func.sum(RollupStationDay.revenue).label("revenue"),
        )
        .join(Station, Station.id == RollupStationDay.station_id)
        .where(RollupStationDay.day == day)
        .group_by(Station.locality_code),
        RollupStationDay,
        include_simulated,
    ).subquery()
    query = _every_locality(sums, "trips", "revenue")
    return [(str(c), str(n), int(t), int(r)) for c, n, t, r in (await session.execute(query)).all()]


async def oldest_pending_delta(session: ReadSession) -> int | None:
    # min() of the primary key: one index probe, however long the backlog.
    return await session.scalar(select(func.min(RollupDelta.id)))
