"""Network reads: stations, routes, recharge points and arrivals, through the cache.

Every read returns the JSON bytes of its answer from Cache.read_through. Cache groups and the
TTL of their views:
- "stations:list"      station list pages                     cache_ttl_stations_s
- "stations:reference" identifiers and per-code details       cache_ttl_station_reference_s
- "routes"             route codes and per-code details       cache_ttl_routes_s
- "recharge_points"    recharge point pages                   cache_ttl_recharge_points_s
- "arrivals:<minute>"  arrivals of every station that minute  cache_ttl_arrivals_s
Nothing in the API writes stations, routes or recharge points: those views change only when
the network is reloaded, and their TTL bounds how long a reload takes to show. Kinds and
channels read from the database are cast to their Literal types: CHECK constraints hold them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.pagination import Page
from travel_recharge.kit.views import Reads
from travel_recharge.models import RechargePoint, Station
from travel_recharge.network import repository
from travel_recharge.network.arrivals import Visit, minute_of, next_arrivals
from travel_recharge.network.errors import RechargePointNotFound, RouteNotFound, StationNotFound
from travel_recharge.network.reference import BANDS
from travel_recharge.network.schemas import (
    ArrivalOut,
    ArrivalsOut,
    Channel,
    HeadwayOut,
    RechargePointOut,
    RechargePointsPage,
    RouteCodesOut,
    RouteDetailsOut,
    RouteKind,
    RouteServing,
    RouteStopOut,
    StationDetailsOut,
    StationIdentifier,
    StationIdentifiersOut,
    StationKind,
    StationOut,
    StationsPage,
)

# Network views are bounded by their TTL (alert writes replace the generation, which stale
# serving never crosses), so an expired value may be served during a refresh: stale_ok.
STATION_LIST_GROUP = "stations:list"
STATION_REFERENCE_GROUP = "stations:reference"
ROUTES_GROUP = "routes"
RECHARGE_POINTS_GROUP = "recharge_points"


def arrivals_group(minute: datetime) -> str:
    # No write changes a timetable, so arrivals are never invalidated: the group only keeps
    # one minute's views together, and they all expire soon after the minute is over.
    return f"arrivals:{minute:%Y%m%dT%H%M}"


def _filter_field(*values: object) -> str:
    # "*" stands for "no filter"; filter values never contain it (they are validated codes).
    return ":".join("*" if value is None else str(value) for value in values)


def station_out(station: Station, locality_name: str) -> StationOut:
    return StationOut(
        station_id=station.id,
        code=station.code,
        name=station.name,
        kind=cast(StationKind, station.kind),
        corridor=station.corridor,
        locality_code=station.locality_code,
        locality_name=locality_name,
        latitude=station.latitude,
        longitude=station.longitude,
        active=station.active,
    )


async def stations(
    reads: Reads, *, locality: str | None, kind: str | None, active: bool | None, page: Page
) -> bytes:
    async def produce(session: ReadSession) -> StationsPage:
        rows, total = await repository.stations_page(
            session,
            locality=locality,
            kind=kind,
            active=active,
            limit=page.limit,
            offset=page.offset,
        )
        items = [station_out(station, locality_name) for station, locality_name in rows]
        return StationsPage(stations=items, total=total, page=page.info(len(items)))

    field = _filter_field(locality, kind, active, page.cache_field)
    ttl = reads.settings.cache_ttl_stations_s
    return await reads.view(
        STATION_LIST_GROUP, field, ttl, produce, stale_ok=True, cacheable=page.cacheable
    )


async def station_identifiers(reads: Reads) -> bytes:
    async def produce(session: ReadSession) -> StationIdentifiersOut:
        rows = await repository.station_identifiers(session)
        return StationIdentifiersOut(
            stations=[StationIdentifier.model_validate(row, from_attributes=True) for row in rows]
        )

    ttl = reads.settings.cache_ttl_station_reference_s
    return await reads.view(STATION_REFERENCE_GROUP, "identifiers", ttl, produce, stale_ok=True)


async def station_details(reads: Reads, code: str) -> bytes:
    async def produce(session: ReadSession) -> StationDetailsOut:
        row = await repository.station_by_code(session, code)
        if row is None:
            raise StationNotFound(code)
        station, locality_name = row
        serving = [
            RouteServing.model_validate(row, from_attributes=True)
            for row in await repository.routes_serving(session, station.id)
        ]
        base = station_out(station, locality_name).model_dump()
        return StationDetailsOut(**base, routes_serving=serving)

    ttl = reads.settings.cache_ttl_station_reference_s
    return await reads.view(STATION_REFERENCE_GROUP, f"details:{code}", ttl, produce, stale_ok=True)


async def route_codes(reads: Reads) -> bytes:
    async def produce(session: ReadSession) -> RouteCodesOut:
        return RouteCodesOut(route_codes=list(await repository.route_codes(session)))

    return await reads.view(
        ROUTES_GROUP, "codes", reads.settings.cache_ttl_routes_s, produce, stale_ok=True
    )


async def route_details(reads: Reads, code: str) -> bytes:
    async def produce(session: ReadSession) -> RouteDetailsOut:
        route = await repository.route_by_code(session, code)
        if route is None:
            raise RouteNotFound(code)
        headways = [
            HeadwayOut(
                band=band.name,
                start=band.start,
                end=band.end,
                headway_minutes=route.headways[band.name],
            )
            for band in BANDS
            if band.name in route.headways
        ]
        stops = [
            RouteStopOut.model_validate(row, from_attributes=True)
            for row in await repository.route_stops(session, route.id)
        ]
        return RouteDetailsOut(
            route_id=route.id,
            code=route.code,
            name=route.name,
            kind=cast(RouteKind, route.kind),
            active=route.active,
            headways=headways,
            stops=stops,
        )

    ttl = reads.settings.cache_ttl_routes_s
    return await reads.view(ROUTES_GROUP, f"details:{code}", ttl, produce, stale_ok=True)


async def recharge_points(
    reads: Reads, *, locality: str | None, channel: str | None, page: Page
) -> bytes:
    async def produce(session: ReadSession) -> RechargePointsPage:
        rows, total = await repository.recharge_points_page(
            session, locality=locality, channel=channel, limit=page.limit, offset=page.offset
        )
        items = [
            RechargePointOut(
                recharge_point_id=point.id,
                name=point.name,
                channel=cast(Channel, point.channel),
                locality_code=point.locality_code,
                locality_name=locality_name,
            )
            for point, locality_name in rows
        ]
        return RechargePointsPage(recharge_points=items, total=total, page=page.info(len(items)))

    field = _filter_field(locality, channel, page.cache_field)
    ttl = reads.settings.cache_ttl_recharge_points_s
    return await reads.view(
        RECHARGE_POINTS_GROUP, field, ttl, produce, stale_ok=True, cacheable=page.cacheable
    )


# For the recharge statement (cards), which reads its point beside the card it locks.
recharge_point_sql = repository.recharge_point_sql


async def require_recharge_point(session: AsyncSession, point_id: int) -> RechargePoint:
    point = await repository.recharge_point_by_id(session, point_id)
    if point is None:
        raise RechargePointNotFound(point_id)
    return point


async def first_point_of_sale(session: AsyncSession) -> int | None:
    """The first active counter or kiosk (demo mode binds its recharge point account to it)."""
    return await repository.first_point_of_sale(session)


async def require_station(session: ReadSession, station_id: int) -> Station:
    station = await repository.station_by_id(session, station_id)
    if station is None:
        raise StationNotFound(station_id)
    return station


async def arrivals(
    reads: Reads, station_id: int, *, at: datetime, now: datetime, per_route: int
) -> bytes:
    """Scheduled arrivals at the station for the minute holding `at` (see network.arrivals).

    A closed (inactive) station has none; inactive routes do not run.
    """
    minute = minute_of(at)
    zone = ZoneInfo(reads.settings.timezone)

    async def produce(session: ReadSession) -> ArrivalsOut:
        station = await require_station(session, station_id)
        visits = [
            Visit(
                route_code=code,
                route_name=name,
                destination=destination,
                headways=headways,
                minutes_from_start=minutes,
                departures=departures,
            )
            for code, name, headways, minutes, destination, departures in (
                await repository.calls_at_station(session, station_id) if station.active else []
            )
        ]
        return ArrivalsOut(
            station_id=station.id,
            station_code=station.code,
            station_name=station.name,
            at=minute.astimezone(zone),
            arrivals=[
                ArrivalOut.model_validate(arrival, from_attributes=True)
                for arrival in next_arrivals(visits, minute, zone, per_route)
            ],
        )

    ttl = reads.settings.cache_ttl_arrivals_s
    # Only answers around the present are cached: a client sweeping `at` through other
    # minutes gets exact answers from PostgreSQL instead of filling Redis with one-off groups.
    if abs(minute - minute_of(now)) > timedelta(seconds=ttl):
        return (await reads.uncached(produce)).model_dump_json().encode()
    field = f"{station_id}:{per_route}"
    return await reads.view(arrivals_group(minute), field, ttl, produce, stale_ok=True)
