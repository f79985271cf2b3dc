"""Loads the reference network into PostgreSQL with COPY (fast, one round trip per table).

Station ids are assigned in a stable order (trunk network by code, then zonal stops by code),
so the same seed gives the same ids on every machine. Recharge points are placed from the
network: a ticket counter at every trunk station and portal, a kiosk at every 40th zonal
stop, and one web channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg

from travel_recharge.kit.bulk import continue_id_sequences
from travel_recharge.network.reference import ReferenceNetwork, build_reference_network

KIOSK_EVERY_NTH_ZONAL_STOP = 40


@dataclass(frozen=True)
class ReferenceCounts:
    localities: int
    stations: int
    routes: int
    route_stops: int
    recharge_points: int


async def reference_counts(connection: asyncpg.Connection) -> ReferenceCounts:
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM localities) AS localities,"
        " (SELECT count(*) FROM stations) AS stations,"
        " (SELECT count(*) FROM routes) AS routes,"
        " (SELECT count(*) FROM route_stops) AS route_stops,"
        " (SELECT count(*) FROM recharge_points) AS recharge_points"
    )
    assert row is not None
    return ReferenceCounts(**{key: int(value) for key, value in row.items()})


async def load_reference_network(
    connection: asyncpg.Connection, random_seed: int = 0
) -> ReferenceCounts:
    """Load the network once; a database that already has localities is left as it is."""
    existing = await reference_counts(connection)
    if existing.localities:
        return existing
    network = build_reference_network(random_seed)
    async with connection.transaction():
        await _copy_network(connection, network)
        # Ids were given explicitly; later inserts (alerts, new points) continue after them.
        await continue_id_sequences(connection, ("stations", "routes", "recharge_points"))
    return await reference_counts(connection)


async def _copy_network(connection: asyncpg.Connection, network: ReferenceNetwork) -> None:
    await connection.copy_records_to_table(
        "localities",
        records=[(loc.code, loc.name) for loc in network.localities],
        columns=["code", "name"],
    )
    zonal_last = sorted(network.stations, key=lambda s: (s.kind == "zonal", s.code))
    station_ids = {station.code: i for i, station in enumerate(zonal_last, start=1)}
    await connection.copy_records_to_table(
        "stations",
        records=[
            (
                station_ids[s.code],
                s.code,
                s.name,
                s.kind,
                s.corridor,
                s.locality_code,
                s.latitude,
                s.longitude,
            )
            for s in zonal_last
        ],
        columns=[
            "id",
            "code",
            "name",
            "kind",
            "corridor",
            "locality_code",
            "latitude",
            "longitude",
        ],
    )
    routes = sorted(network.routes, key=lambda r: (r.kind, r.code))
    await connection.copy_records_to_table(
        "routes",
        records=[
            (i, r.code, r.name, r.kind, json.dumps(dict(r.headways)))
            for i, r in enumerate(routes, start=1)
        ],
        columns=["id", "code", "name", "kind", "headways"],
    )
    await connection.copy_records_to_table(
        "route_stops",
        records=[
            (route_id, stop.sequence, station_ids[stop.station_code], stop.minutes_from_start)
            for route_id, route in enumerate(routes, start=1)
            for stop in route.stops
        ],
        columns=["route_id", "sequence", "station_id", "minutes_from_start"],
    )
    zonal = [s for s in zonal_last if s.kind == "zonal"]
    points: list[tuple[str, str | None, str]] = [
        (f"Taquilla {s.name}", s.locality_code, "counter") for s in zonal_last if s.kind != "zonal"
    ]
    points += [
        (f"Punto de recarga {s.name}", s.locality_code, "kiosk")
        for s in zonal[::KIOSK_EVERY_NTH_ZONAL_STOP]
    ]
    points.append(("Recarga en línea", None, "web"))
    await connection.copy_records_to_table(
        "recharge_points",
        records=[(i, *point) for i, point in enumerate(points, start=1)],
        columns=["id", "name", "locality_code", "channel"],
    )
