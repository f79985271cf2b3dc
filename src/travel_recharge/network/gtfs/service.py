"""GTFS import and export of the network, on one asyncpg connection.

Import: the whole feed is read and checked first (network.gtfs.feed); a refused feed raises
FeedRefused before any statement runs. The writes then happen in one transaction, so a
failure half-way leaves the previous network in place. Network views in the cache show the
new network once their TTL ends (network.service).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg

from travel_recharge.network.gtfs import repository
from travel_recharge.network.gtfs.feed import FeedNetwork, ImportedStation, read_feed
from travel_recharge.network.gtfs.matching import Placed, place_routes, place_stations
from travel_recharge.network.gtfs.writing import Agency, write_feed
from travel_recharge.network.reference import load_localities


@dataclass(frozen=True, slots=True)
class ImportReport:
    stations: int
    routes: int
    route_stops: int
    routes_without_trips: int  # routes in routes.txt with no trip: not imported
    retired_stations: int  # active before, absent from the feed: now inactive
    retired_routes: int


def _locality(station: ImportedStation, known: set[str]) -> str:
    """The feed's locality (our export writes it), else the one with the nearest centre.

    Localities are the reference city's districts; for a feed of another city the nearest one
    stands in, since every station needs one.
    """
    given = station.feed.locality_code
    if given in known:
        return given
    localities = load_localities()
    nearest = min(
        localities,
        key=lambda loc: (
            (loc.latitude - station.feed.latitude) ** 2
            + (loc.longitude - station.feed.longitude) ** 2
        ),
    )
    return nearest.code


def _records(
    network: FeedNetwork, stations: dict[str, Placed], routes: dict[str, Placed]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[int, int, int, int]]]:
    known = {loc.code for loc in load_localities()}
    station_rows: list[tuple[object, ...]] = [
        (
            stations[s.feed.gtfs_id].id,
            stations[s.feed.gtfs_id].code,
            s.feed.gtfs_id,
            s.feed.name,
            s.kind,
            s.feed.corridor,
            _locality(s, known),
            s.feed.latitude,
            s.feed.longitude,
        )
        for s in network.stations
    ]
    route_rows: list[tuple[object, ...]] = [
        (
            routes[r.gtfs_id].id,
            routes[r.gtfs_id].code,
            r.gtfs_id,
            r.name,
            r.kind,
            dict(r.headways),
            list(r.departures),
        )
        for r in network.routes
    ]
    stops = [
        (routes[r.gtfs_id].id, sequence, stations[station].id, minutes)
        for r in network.routes
        for sequence, (station, minutes) in enumerate(zip(r.stations, r.minutes, strict=True), 1)
    ]
    return station_rows, route_rows, stops


async def import_gtfs(connection: asyncpg.Connection, feed: Path) -> ImportReport:
    """Replace the network with the feed's, or raise FeedRefused having written nothing."""
    # Reading a big feed is seconds of CPU: off the event loop, which may serve others.
    network = await asyncio.to_thread(read_feed, feed)
    async with connection.transaction():
        await repository.lock_network(connection)
        before_stations = await repository.existing_stations(connection)
        before_routes = await repository.existing_routes(connection)
        stations = place_stations(
            [(s.feed.gtfs_id, s.feed.code) for s in network.stations], before_stations
        )
        routes = place_routes([(r.gtfs_id, r.code) for r in network.routes], before_routes)
        await repository.ensure_localities(
            connection, {loc.code: loc.name for loc in load_localities()}
        )
        station_rows, route_rows, stops = _records(network, stations, routes)
        active_before = await repository.active_ids(connection)
        await repository.write_network(connection, station_rows, route_rows, stops)
        kept = {p.id for p in stations.values()}, {p.id for p in routes.values()}
    return ImportReport(
        stations=len(station_rows),
        routes=len(route_rows),
        route_stops=len(stops),
        routes_without_trips=network.routes_without_trips,
        retired_stations=len(active_before[0] - kept[0]),
        retired_routes=len(active_before[1] - kept[1]),
    )


async def export_gtfs(
    connection: asyncpg.Connection, out: Path, agency: Agency, valid_from: date
) -> None:
    """The active network as a GTFS feed at `out` (a zip)."""
    stations = await repository.active_stations(connection)
    routes = await repository.active_routes(connection)
    calls = await repository.stops_of_routes(connection, [route["id"] for route in routes])
    await asyncio.to_thread(write_feed, out, agency, valid_from, stations, routes, calls)
