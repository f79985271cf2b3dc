"""SQL of trip flows: what the job reads (a day's taps, the network) and writes (a day's
counts), and what the API sums (real riders only: simulated cards never reach these tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.analytics.flows import series
from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    FlowDay,
    Locality,
    RollupHour,
    Station,
    TransferKindFlow,
)
from travel_recharge.models.flows import WHOLE_DAY


class DayCounts(Protocol):
    """A day's counts as the job's tally gives them (rows in the tables' column order)."""

    @property
    def trips(self) -> int: ...
    def locality_rows(self) -> list[tuple[Any, ...]]: ...
    def station_rows(self) -> list[tuple[str, int, int, int, int]]: ...
    def line_rows(self) -> list[tuple[Any, ...]]: ...
    def place_rows(self) -> list[tuple[Any, ...]]: ...
    def kind_rows(self) -> list[tuple[str, str, str, int]]: ...


# One job at a time across workers and machines (a session lock, gone with its connection).
_JOB_LOCK = 7_242_013

_DAY_TAPS = text(
    "SELECT t.card_id, t.event_time, t.service_kind, t.station_id, t.route_id,"
    " t.end_station_id, t.is_transfer, t.credit_used"
    " FROM trips t JOIN cards c ON c.id = t.card_id"
    " WHERE t.event_time >= :start AND t.event_time < :end AND NOT c.simulated"
    " ORDER BY t.card_id, t.event_time, t.id"
)
_STATIONS = text("SELECT id, kind, locality_code, latitude, longitude FROM stations")
_ROUTES = text(
    "SELECT r.id, r.code, r.kind, array_agg(rs.station_id ORDER BY rs.sequence)"
    " FROM routes r JOIN route_stops rs ON rs.route_id = r.id GROUP BY r.id"
)


async def try_job_lock(connection: AsyncConnection) -> bool:
    query = text("SELECT pg_try_advisory_lock(:key)")
    return bool((await connection.execute(query, {"key": _JOB_LOCK})).scalar_one())


async def days_due(connection: AsyncConnection, before: date) -> list[tuple[date, int]]:
    """Finished days (before `before`) whose real trips the job has not counted as they are
    now, oldest first: (day, trips in the rollups)."""
    counted = select(FlowDay.day, FlowDay.trips)
    in_rollups = (
        select(RollupHour.day, func.sum(RollupHour.trips).cast(FlowDay.trips.type))
        .where(RollupHour.day < before, RollupHour.simulated.is_(False))
        .group_by(RollupHour.day)
    )
    rows = (await connection.execute(in_rollups.except_(counted))).all()
    return sorted((day, int(trips)) for day, trips in rows)


async def day_taps(
    connection: AsyncConnection, start: datetime, end: datetime
) -> AsyncIterator[Any]:
    """A day's taps of real cards, by card and time, read in batches (a day of a big city
    is a million rows: never all in memory at once)."""
    result = await connection.stream(
        _DAY_TAPS.execution_options(yield_per=10_000), {"start": start, "end": end}
    )
    async for row in result:
        yield row


async def stations(connection: AsyncConnection) -> Sequence[Any]:
    return (await connection.execute(_STATIONS)).all()


async def routes(connection: AsyncConnection) -> Sequence[Any]:
    return (await connection.execute(_ROUTES)).all()


async def counted_since(connection: AsyncConnection, day: date) -> list[date]:
    query = select(FlowDay.day).where(FlowDay.day >= day).order_by(FlowDay.day)
    return list((await connection.execute(query)).scalars().all())


async def first_series_day(connection: AsyncConnection) -> date | None:
    covered = await series.span(connection)
    return None if covered is None else covered.first


async def forget_everything(connection: AsyncConnection) -> None:
    """Drop every count: the next run counts every finished day again, in order."""
    for table in (FlowDay, TransferKindFlow):
        await connection.execute(delete(table))
    await series.reset(connection)


async def store_day(
    connection: AsyncConnection, day: date, counts: DayCounts, at: datetime
) -> None:
    """Replace the day's counts (in the caller's transaction). Days after the series' first
    day only: an earlier one resets them (forget_everything)."""
    for table in (TransferKindFlow, FlowDay):
        await connection.execute(delete(table).where(table.day == day))
    kinds = [
        {"day": day, "band": band, "from_kind": a, "to_kind": b, "transfers": n}
        for band, a, b, n in counts.kind_rows()
    ]
    if kinds:
        await connection.execute(insert(TransferKindFlow), kinds)
    lines = counts.line_rows()
    by_family: dict[series.Family, Sequence[tuple[Any, ...]]] = {
        series.LOCALITIES: counts.locality_rows(),
        series.STATIONS: counts.station_rows(),
        series.LINES: [row for row in lines if row[0] != WHOLE_DAY],
        series.LINES_WHOLE_DAY: [row for row in lines if row[0] == WHOLE_DAY],
        series.PLACES: counts.place_rows(),
    }
    await series.store_day(connection, day, by_family)
    await connection.execute(insert(FlowDay).values(day=day, trips=counts.trips, inferred_at=at))


# What the job rewrites each day: every row of a series gets a new version.
_REWRITTEN = (
    "od_days",
    "transfer_kinds",
    "flow_series_state",
    *(family.table for family in series.FAMILIES),
)


async def tidy(connection: AsyncConnection, more: Sequence[str] = ()) -> None:
    """VACUUM (ANALYZE) the tables the job wrote (and `more`), outside any transaction: with
    autovacuum off or behind, the answers would read every dead version of the rows too (at
    10 million trips the pairs of lines took 95 ms instead of 46). PostgreSQL skips, with a
    warning, a table the job's role does not own."""
    await connection.commit()
    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
    await autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join((*_REWRITTEN, *more))}")


async def counted_days(session: ReadSession, first: date, last: date) -> list[date]:
    query = select(FlowDay.day).where(FlowDay.day.between(first, last)).order_by(FlowDay.day)
    return list((await session.scalars(query)).all())


async def locality_pairs(
    session: ReadSession, first: date, last: date, band: str | None
) -> list[tuple[str, str, str, int]]:
    """(origin, destination, how, trips) over the days and band."""
    rows = await series.busiest(session, series.LOCALITIES, band or WHOLE_DAY, first, last, None)
    return [(o, d, how, int(n)) for o, d, how, n in rows]


async def station_pairs(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[int, int, int, int]]:
    """The busiest station pairs: (origin, destination, observed, inferred)."""
    rows = await series.busiest(session, series.STATIONS, band or WHOLE_DAY, first, last, limit)
    return [(int(o), int(d), int(a), int(b)) for o, d, a, b in rows]


async def transfer_kinds(
    session: ReadSession, first: date, last: date, band: str | None
) -> list[tuple[str, str, int]]:
    """(from kind, to kind, transfers): between trunk, zonal, feeder and cable."""
    f = TransferKindFlow
    query = (
        select(f.from_kind, f.to_kind, func.sum(f.transfers))
        .where(f.day.between(first, last))
        .group_by(f.from_kind, f.to_kind)
    )
    rows = await session.execute(query if band is None else query.where(f.band == band))
    return [(a, b, int(n)) for a, b, n in rows.all()]


async def transfer_lines(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[str, str, str, str, int]]:
    """The busiest pairs of lines: (from kind, from line, to kind, to line, transfers)."""
    family = series.LINES if band else series.LINES_WHOLE_DAY
    rows = await series.busiest(session, family, band or WHOLE_DAY, first, last, limit)
    return [(a, b, c, d, int(n)) for a, b, c, d, n in rows]


async def transfer_places(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[int, int]]:
    rows = await series.busiest(session, series.PLACES, band or WHOLE_DAY, first, last, limit)
    return [(int(s), int(n)) for s, n in rows]


async def locality_places(session: ReadSession) -> dict[str, tuple[str, float, float]]:
    """Locality code -> (name, latitude, longitude): the mean of its stops' positions."""
    query = (
        select(
            Locality.code, Locality.name, func.avg(Station.latitude), func.avg(Station.longitude)
        )
        .join(Station, Station.locality_code == Locality.code)
        .group_by(Locality.code, Locality.name)
    )
    rows = await session.execute(query)
    return {code: (name, float(lat), float(lon)) for code, name, lat, lon in rows.all()}


async def station_places(
    session: ReadSession, station_ids: set[int]
) -> dict[int, tuple[str, str, str, str, float, float]]:
    """Station -> (code, name, kind, locality, latitude, longitude)."""
    s = Station
    query = select(s.id, s.code, s.name, s.kind, s.locality_code, s.latitude, s.longitude).where(
        s.id.in_(station_ids)
    )
    return {
        int(i): (code, name, kind, locality, float(lat), float(lon))
        for i, code, name, kind, locality, lat, lon in (await session.execute(query)).all()
    }
