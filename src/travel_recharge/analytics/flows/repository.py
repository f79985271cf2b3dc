"""SQL of trip flows: what the job reads (a day's taps, the network) and writes (a day's
counts), and what the API sums (real riders only: simulated cards never reach these tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    FlowDay,
    Locality,
    LocalityFlow,
    RollupHour,
    Station,
    StationFlow,
    TransferLineFlow,
    TransferPlace,
)


class DayCounts(Protocol):
    """A day's counts as the job's tally keeps them (keys in the tables' column order)."""

    @property
    def trips(self) -> int: ...
    @property
    def localities(self) -> Mapping[tuple[Any, ...], int]: ...
    @property
    def stations(self) -> Mapping[tuple[Any, ...], int]: ...
    @property
    def transfer_lines(self) -> Mapping[tuple[Any, ...], int]: ...
    @property
    def transfer_places(self) -> Mapping[tuple[Any, ...], int]: ...


# One job at a time across workers and machines (a session lock, gone with its connection).
_JOB_LOCK = 7_242_013

_DAY_TAPS = text(
    "SELECT t.card_id, t.event_time, t.service_kind, t.station_id, t.route_id,"
    " t.end_station_id, t.is_transfer"
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
    now, newest first: (day, trips in the rollups)."""
    counted = select(FlowDay.day, FlowDay.trips)
    in_rollups = (
        select(RollupHour.day, func.sum(RollupHour.trips).cast(FlowDay.trips.type))
        .where(RollupHour.day < before, RollupHour.simulated.is_(False))
        .group_by(RollupHour.day)
    )
    rows = (await connection.execute(in_rollups.except_(counted))).all()
    return sorted(((day, int(trips)) for day, trips in rows), reverse=True)


async def day_taps(connection: AsyncConnection, start: datetime, end: datetime) -> Sequence[Any]:
    """A day's taps of real cards, by card and time."""
    return (await connection.execute(_DAY_TAPS, {"start": start, "end": end})).all()


async def stations(connection: AsyncConnection) -> Sequence[Any]:
    return (await connection.execute(_STATIONS)).all()


async def routes(connection: AsyncConnection) -> Sequence[Any]:
    return (await connection.execute(_ROUTES)).all()


async def store_day(
    connection: AsyncConnection, day: date, counts: DayCounts, at: datetime
) -> None:
    """Replace the day's counts (in the caller's transaction)."""
    tables = (LocalityFlow, StationFlow, TransferLineFlow, TransferPlace, FlowDay)
    for table in tables:
        await connection.execute(delete(table).where(table.day == day))
    await _insert(
        connection, LocalityFlow, day, counts.localities, "origin destination how", "trips"
    )
    await _insert(
        connection, StationFlow, day, counts.stations, "origin_id destination_id how", "trips"
    )
    await _insert(
        connection,
        TransferLineFlow,
        day,
        counts.transfer_lines,
        "from_kind from_line to_kind to_line",
        "transfers",
    )
    await _insert(connection, TransferPlace, day, counts.transfer_places, "station_id", "transfers")
    await connection.execute(insert(FlowDay).values(day=day, trips=counts.trips, inferred_at=at))


async def _insert(
    connection: AsyncConnection,
    table: type[Any],
    day: date,
    counts: Mapping[tuple[Any, ...], int],
    key: str,
    count: str,
) -> None:
    names = ["band", *key.split()]
    rows = [{"day": day, **dict(zip(names, k, strict=True)), count: n} for k, n in counts.items()]
    if rows:
        await connection.execute(insert(table), rows)


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _in_range(query: Q, table: type[Any], first: date, last: date, band: str | None) -> Q:
    query = query.where(table.day.between(first, last))
    return query if band is None else query.where(table.band == band)


async def counted_days(session: ReadSession, first: date, last: date) -> list[date]:
    query = select(FlowDay.day).where(FlowDay.day.between(first, last)).order_by(FlowDay.day)
    return list((await session.scalars(query)).all())


async def locality_pairs(
    session: ReadSession, first: date, last: date, band: str | None
) -> list[tuple[str, str, str, int]]:
    """(origin, destination, how, trips) summed over the days and band."""
    f = LocalityFlow
    query = select(f.origin, f.destination, f.how, func.sum(f.trips)).group_by(
        f.origin, f.destination, f.how
    )
    rows = await session.execute(_in_range(query, f, first, last, band))
    return [(o, d, how, int(n)) for o, d, how, n in rows.all()]


async def station_pairs(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[int, int, int, int]]:
    """The busiest station pairs: (origin, destination, observed, inferred)."""
    f = StationFlow
    observed = func.sum(f.trips).filter(f.how == "observed")
    inferred = func.sum(f.trips).filter(f.how == "inferred")
    query = (
        select(f.origin_id, f.destination_id, observed, inferred)
        .group_by(f.origin_id, f.destination_id)
        .order_by(func.sum(f.trips).desc(), f.origin_id, f.destination_id)
        .limit(limit)
    )
    rows = await session.execute(_in_range(query, f, first, last, band))
    return [(int(o), int(d), int(a or 0), int(b or 0)) for o, d, a, b in rows.all()]


async def transfer_kinds(
    session: ReadSession, first: date, last: date, band: str | None
) -> list[tuple[str, str, int]]:
    """(from kind, to kind, transfers): between trunk, zonal, feeder and cable."""
    f = TransferLineFlow
    query = select(f.from_kind, f.to_kind, func.sum(f.transfers)).group_by(f.from_kind, f.to_kind)
    rows = await session.execute(_in_range(query, f, first, last, band))
    return [(a, b, int(n)) for a, b, n in rows.all()]


async def transfer_lines(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[str, str, str, str, int]]:
    """The busiest pairs of lines: (from kind, from line, to kind, to line, transfers)."""
    f = TransferLineFlow
    keys = (f.from_kind, f.from_line, f.to_kind, f.to_line)
    query = (
        select(*keys, func.sum(f.transfers))
        .group_by(*keys)
        .order_by(func.sum(f.transfers).desc(), *keys)
        .limit(limit)
    )
    rows = await session.execute(_in_range(query, f, first, last, band))
    return [(a, b, c, d, int(n)) for a, b, c, d, n in rows.all()]


async def transfer_places(
    session: ReadSession, first: date, last: date, band: str | None, limit: int
) -> list[tuple[int, int]]:
    f = TransferPlace
    query = (
        select(f.station_id, func.sum(f.transfers))
        .group_by(f.station_id)
        .order_by(func.sum(f.transfers).desc(), f.station_id)
        .limit(limit)
    )
    rows = await session.execute(_in_range(query, f, first, last, band))
    return [(int(s), int(n)) for s, n in rows.all()]


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
