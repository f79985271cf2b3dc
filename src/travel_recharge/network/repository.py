"""SQL of the network feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVarTuple, cast

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Alert, Locality, RechargePoint, Route, RouteStop, Station

AlertRow = Row[Alert, str | None, str | None]  # the alert, its station and route codes

_Columns = TypeVarTuple("_Columns")


async def station_by_id(session: ReadSession, station_id: int) -> Station | None:
    return await session.scalar(select(Station).where(Station.id == station_id))


async def route_by_code(session: ReadSession, code: str) -> Route | None:
    return await session.scalar(select(Route).where(Route.code == code))


async def recharge_point_by_id(session: AsyncSession, point_id: int) -> RechargePoint | None:
    return await session.scalar(select(RechargePoint).where(RechargePoint.id == point_id))


def recharge_point_sql(point_id: str) -> str:
    """A recharge point's id, channel, whether it is active and whether it is the traffic
    simulator's, as a subquery for a
    driver-level statement of another feature (the recharge); `point_id` is one of that
    statement's bind parameters."""
    return f"SELECT id, channel, active, simulated FROM recharge_points WHERE id = {point_id}"  # noqa: S608


async def first_point_of_sale(session: AsyncSession) -> int | None:
    return await session.scalar(
        select(RechargePoint.id)
        .where(RechargePoint.active, RechargePoint.channel.in_(("counter", "kiosk")))
        .order_by(RechargePoint.id)
        .limit(1)
    )


async def _page_with_total(
    session: ReadSession,
    query: Select[*_Columns],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> tuple[list[tuple[*_Columns]], int]:
    """One page of `query` plus the count of all rows matching `conditions`.

    The count rides along as a window column (one round trip); only a page past the end,
    which has no row to carry it, costs a second query.
    """
    rows = (
        await session.execute(
            query.add_columns(func.count().over()).where(*conditions).limit(limit).offset(offset)
        )
    ).all()
    if rows:
        # Each row minus its trailing count is exactly a row of `query`.
        page = [cast(tuple[*_Columns], tuple(row)[:-1]) for row in rows]
        return page, int(rows[0][-1])
    if offset == 0:
        return [], 0
    counted = query.with_only_columns(func.count()).order_by(None).where(*conditions)
    return [], int(await session.scalar(counted) or 0)


def _stations_with_locality() -> Select[Station, str]:
    return select(Station, Locality.name).join(Locality, Locality.code == Station.locality_code)


async def stations_page(
    session: ReadSession,
    *,
    locality: str | None,
    kind: str | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Station, str]], int]:
    """Stations by code with their locality's name, and how many match the filters."""
    conditions: list[ColumnElement[bool]] = []
    if locality is not None:
        conditions.append(Station.locality_code == locality)
    if kind is not None:
        conditions.append(Station.kind == kind)
    if active is not None:
        conditions.append(Station.active.is_(active))
    query = _stations_with_locality().order_by(Station.code)
    return await _page_with_total(session, query, conditions, limit, offset)


async def station_identifiers(session: ReadSession) -> Sequence[Row[str, str]]:
    return (await session.execute(select(Station.code, Station.name).order_by(Station.code))).all()


async def station_by_code(session: ReadSession, code: str) -> Row[Station, str] | None:
    query = _stations_with_locality().where(Station.code == code)
    return (await session.execute(query)).first()


async def routes_serving(session: ReadSession, station_id: int) -> Sequence[Row[str, str, str]]:
    """Active routes calling at the station, by code."""
    calling = select(RouteStop.route_id).where(RouteStop.station_id == station_id)
    query = (
        select(Route.code.label("route_code"), Route.name, Route.kind)
        .where(Route.id.in_(calling), Route.active)
        .order_by(Route.code.collate("C"))
    )
    return (await session.execute(query)).all()


async def route_codes(session: ReadSession) -> Sequence[str]:
    # Byte order ("C"), not the database's locale, so clients see a plain sorted list.
    return (await session.scalars(select(Route.code).order_by(Route.code.collate("C")))).all()


async def route_stops(
    session: ReadSession, route_id: int
) -> Sequence[Row[int, int, str, str, int]]:
    query = (
        select(
            RouteStop.sequence,
            RouteStop.station_id,
            Station.code.label("station_code"),
            Station.name,
            RouteStop.minutes_from_start,
        )
        .join(Station, Station.id == RouteStop.station_id)
        .where(RouteStop.route_id == route_id)
        .order_by(RouteStop.sequence)
    )
    return (await session.execute(query)).all()


async def calls_at_station(
    session: ReadSession, station_id: int
) -> Sequence[Row[str, str, dict[str, int], int, str, list[int] | None]]:
    """Every call of an active route at the station: route, headways, offset, destination
    and the route's departures (from a GTFS feed; None when it runs by headways)."""
    last_stop = aliased(RouteStop)
    terminus = aliased(Station)
    destination = (
        select(terminus.name)
        .join(last_stop, last_stop.station_id == terminus.id)
        .where(last_stop.route_id == Route.id)
        .order_by(last_stop.sequence.desc())
        .limit(1)
        .correlate(Route)
        .scalar_subquery()
    )
    query = (
        select(
            Route.code,
            Route.name,
            Route.headways,
            RouteStop.minutes_from_start,
            destination,
            Route.departures,
        )
        .join(RouteStop, RouteStop.route_id == Route.id)
        .where(RouteStop.station_id == station_id, Route.active)
    )
    return (await session.execute(query)).all()


def gtfs_stop_id() -> ColumnElement[str]:
    """A station's stop_id in GTFS: the imported feed's, else its code (as the export writes)."""
    return func.coalesce(Station.gtfs_stop_id, Station.code)


def gtfs_route_id() -> ColumnElement[str]:
    """A route's route_id in GTFS: the imported feed's, else its code (as the export writes)."""
    return func.coalesce(Route.gtfs_route_id, Route.code)


async def has_gtfs_stop(session: ReadSession, stop_id: str) -> bool:
    query = select(Station.id).where(gtfs_stop_id() == stop_id).limit(1)
    return await session.scalar(query) is not None


async def has_gtfs_route(session: ReadSession, route_id: str) -> bool:
    query = select(Route.id).where(gtfs_route_id() == route_id).limit(1)
    return await session.scalar(query) is not None


async def timetable_calls(
    session: ReadSession, *, route_id: str | None, stop_id: str | None
) -> Sequence[Row[str, dict[str, int], list[int] | None, int, str, int]]:
    """Every call of an active route at an active station, by route then stop order: GTFS
    route_id, headways, departures, GTFS stop_sequence, GTFS stop_id, minutes from the start.

    stop_sequence numbers a route's stops 1, 2, ... in order, closed stations included, as
    the GTFS export does. A closed station has no arrivals (network.service.arrivals), so it
    has no call here. `route_id` and `stop_id` (GTFS ids) narrow the calls.
    """
    numbered = select(
        RouteStop.route_id,
        RouteStop.station_id,
        RouteStop.minutes_from_start,
        func.row_number()
        .over(partition_by=RouteStop.route_id, order_by=RouteStop.sequence)
        .label("stop_sequence"),
    ).subquery()
    conditions: list[ColumnElement[bool]] = [Route.active.is_(True), Station.active.is_(True)]
    if route_id is not None:
        conditions.append(gtfs_route_id() == route_id)
    if stop_id is not None:
        conditions.append(gtfs_stop_id() == stop_id)
    query = (
        select(
            gtfs_route_id(),
            Route.headways,
            Route.departures,
            numbered.c.stop_sequence,
            gtfs_stop_id(),
            numbered.c.minutes_from_start,
        )
        .join(numbered, numbered.c.route_id == Route.id)
        .join(Station, Station.id == numbered.c.station_id)
        .where(*conditions)
        .order_by(Route.code.collate("C"), numbered.c.stop_sequence)
    )
    return (await session.execute(query)).all()


async def recharge_points_page(
    session: ReadSession, *, locality: str | None, channel: str | None, limit: int, offset: int
) -> tuple[list[tuple[RechargePoint, str | None]], int]:
    """Active recharge points, by id."""
    # The traffic simulator's points of sale are made up: no rider is sent to one.
    conditions: list[ColumnElement[bool]] = [
        RechargePoint.active.is_(True),
        RechargePoint.simulated.is_(False),
    ]
    if locality is not None:
        conditions.append(RechargePoint.locality_code == locality)
    if channel is not None:
        conditions.append(RechargePoint.channel == channel)
    query = (
        select(RechargePoint, Locality.name)
        .outerjoin(Locality, Locality.code == RechargePoint.locality_code)
        .order_by(RechargePoint.id)
    )
    return await _page_with_total(session, query, conditions, limit, offset)


# Alerts.


def _alerts_with_codes() -> Select[Alert, str | None, str | None]:
    return (
        select(Alert, Station.code, Route.code)
        .outerjoin(Station, Station.id == Alert.station_id)
        .outerjoin(Route, Route.id == Alert.route_id)
    )


async def alerts_at_station(
    session: ReadSession,
    station_id: int,
    *,
    not_over_at: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[AlertRow]:
    """Alerts for the station: its own, and route-wide ones of the routes calling at it.

    An alert naming a station and a route is about that route at that station only (as a
    GTFS-Realtime informed entity with both ids). With `not_over_at`: only alerts neither
    resolved nor ended at that time (future ones included). Newest active_from first.
    """
    calling = func.array(
        select(RouteStop.route_id).where(RouteStop.station_id == station_id).scalar_subquery()
    )
    conditions: list[ColumnElement[bool]] = [
        or_(
            Alert.station_id == station_id,
            # = ANY(ARRAY(...)) keeps both branches on their indexes (a BitmapOr).
            and_(Alert.station_id.is_(None), Alert.route_id == func.any(calling)),
        )
    ]
    if not_over_at is not None:
        conditions += [
            Alert.resolved_at.is_(None),
            or_(Alert.active_until.is_(None), Alert.active_until > not_over_at),
        ]
    query = (
        _alerts_with_codes()
        .where(*conditions)
        .order_by(Alert.active_from.desc(), Alert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).all()


async def alerts_not_over(
    session: ReadSession, at: datetime
) -> Sequence[Row[Alert, str | None, str | None, str | None, str | None]]:
    """Every alert neither resolved nor ended at `at` (future ones included), newest first,
    with its station and route codes and their GTFS stop_id and route_id."""
    query = (
        _alerts_with_codes()
        .add_columns(gtfs_stop_id(), gtfs_route_id())
        .where(
            Alert.resolved_at.is_(None),
            or_(Alert.active_until.is_(None), Alert.active_until > at),
        )
        .order_by(Alert.active_from.desc(), Alert.id.desc())
    )
    return (await session.execute(query)).all()


async def alert_with_codes(session: AsyncSession, alert_id: int) -> AlertRow | None:
    return (await session.execute(_alerts_with_codes().where(Alert.id == alert_id))).first()


async def lock_alert(session: AsyncSession, alert_id: int) -> Alert | None:
    """The alert row, locked until the transaction ends: updates and resolution serialize."""
    return await session.scalar(
        select(Alert)
        .where(Alert.id == alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def insert_alert(session: AsyncSession, alert: Alert) -> int:
    session.add(alert)
    await session.flush()
    return alert.id


async def stations_of_route(session: AsyncSession, route_id: int) -> Sequence[int]:
    query = select(RouteStop.station_id).where(RouteStop.route_id == route_id).distinct()
    return (await session.scalars(query)).all()


async def route_calls_at(session: AsyncSession, route_id: int, station_id: int) -> bool:
    query = select(RouteStop.sequence).where(
        RouteStop.route_id == route_id, RouteStop.station_id == station_id
    )
    return await session.scalar(query.limit(1)) is not None
