"""SQL of the GTFS import and export, on one asyncpg connection (COPY for the bulk rows).

An import holds EXCLUSIVE locks on the network tables until it commits: reads go on (the
API keeps serving the old network), a second import waits for the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from travel_recharge.kit.bulk import continue_id_sequences

STATION_COLUMNS = (
    "id",
    "code",
    "gtfs_stop_id",
    "name",
    "kind",
    "corridor",
    "locality_code",
    "latitude",
    "longitude",
)
ROUTE_COLUMNS = ("id", "code", "gtfs_route_id", "name", "kind", "headways", "departures")
ROUTE_STOP_COLUMNS = ("route_id", "sequence", "station_id", "minutes_from_start")


@dataclass(frozen=True, slots=True)
class Existing:
    """A station or route already in the database: what an imported one may match."""

    id: int
    code: str
    gtfs_id: str | None


async def lock_network(connection: asyncpg.Connection) -> None:
    await connection.execute("LOCK TABLE stations, routes, route_stops IN EXCLUSIVE MODE")


async def existing_stations(connection: asyncpg.Connection) -> list[Existing]:
    rows = await connection.fetch("SELECT id, code, gtfs_stop_id FROM stations")
    return [Existing(row["id"], row["code"], row["gtfs_stop_id"]) for row in rows]


async def existing_routes(connection: asyncpg.Connection) -> list[Existing]:
    rows = await connection.fetch("SELECT id, code, gtfs_route_id FROM routes")
    return [Existing(row["id"], row["code"], row["gtfs_route_id"]) for row in rows]


async def active_ids(connection: asyncpg.Connection) -> tuple[set[int], set[int]]:
    """The ids of the active stations and routes."""
    stations = await connection.fetch("SELECT id FROM stations WHERE active")
    routes = await connection.fetch("SELECT id FROM routes WHERE active")
    return {row["id"] for row in stations}, {row["id"] for row in routes}


async def ensure_localities(connection: asyncpg.Connection, names: Mapping[str, str]) -> None:
    """The localities stations refer to, added where missing (an empty database has none)."""
    await connection.executemany(
        "INSERT INTO localities (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        list(names.items()),
    )


async def _upsert(
    connection: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    records: list[tuple[object, ...]],
) -> None:
    """Rows by id: an existing id is updated in place (and made active), a new one inserted."""
    staging = f"gtfs_{table}"
    await connection.execute(
        f"CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    await connection.copy_records_to_table(staging, records=records, columns=list(columns))
    listed = ", ".join(columns)
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != "id")
    await connection.execute(
        f"INSERT INTO {table} ({listed}, active) SELECT {listed}, true FROM {staging}"  # noqa: S608
        f" ON CONFLICT (id) DO UPDATE SET {updates}, active = true"
    )


async def write_network(
    connection: asyncpg.Connection,
    stations: list[tuple[object, ...]],
    routes: list[tuple[object, ...]],
    route_stops: list[tuple[int, int, int, int]],
) -> None:
    """Stations and routes upserted by id, every route's stops replaced, the rest retired.

    Stations and routes absent from the feed are kept, inactive (and without stops): trips,
    alerts and analytics may refer to them, and a later feed that names them again revives
    the same rows.
    """
    await _upsert(connection, "stations", STATION_COLUMNS, stations)
    routes_json = [(*route[:5], json.dumps(route[5]), *route[6:]) for route in routes]
    await _upsert(connection, "routes", ROUTE_COLUMNS, routes_json)
    station_ids = [station[0] for station in stations]
    route_ids = [route[0] for route in routes]
    await connection.execute(
        "UPDATE stations SET active = false WHERE active AND NOT id = ANY($1::int[])", station_ids
    )
    await connection.execute(
        "UPDATE routes SET active = false WHERE active AND NOT id = ANY($1::int[])", route_ids
    )
    await connection.execute("DELETE FROM route_stops")
    await connection.copy_records_to_table(
        "route_stops", records=route_stops, columns=list(ROUTE_STOP_COLUMNS)
    )
    await continue_id_sequences(connection, ("stations", "routes"))


# Export.


async def active_stations(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT code, gtfs_stop_id, name, kind, corridor, locality_code, latitude, longitude"
        " FROM stations WHERE active ORDER BY code"
    )
    return rows


async def active_routes(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT id, code, gtfs_route_id, name, kind, headways, departures"
        ' FROM routes WHERE active ORDER BY code COLLATE "C"'
    )
    return rows


async def stops_of_routes(
    connection: asyncpg.Connection, route_ids: Iterable[int]
) -> dict[int, list[tuple[str, str, int]]]:
    """Per route, its calls in order: (station code, station gtfs id or code, minutes)."""
    rows = await connection.fetch(
        "SELECT rs.route_id, s.code, coalesce(s.gtfs_stop_id, s.code) AS stop_id,"
        " rs.minutes_from_start FROM route_stops rs JOIN stations s ON s.id = rs.station_id"
        " WHERE rs.route_id = ANY($1::int[]) ORDER BY rs.route_id, rs.sequence",
        list(route_ids),
    )
    calls: dict[int, list[tuple[str, str, int]]] = {}
    for row in rows:
        calls.setdefault(row["route_id"], []).append(
            (row["code"], row["stop_id"], row["minutes_from_start"])
        )
    return calls
