"""Importing a feed into real PostgreSQL: the network it gives, arrivals from its timetable,
refusals that write nothing, and re-imports that keep ids (history stays valid)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ServerUrls
from tests.network.gtfs.feeds import replace_cell, valid_feed, write_feed
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.network.gtfs.errors import FeedRefused
from travel_recharge.network.gtfs.service import ImportReport, import_gtfs

pytestmark = pytest.mark.usefixtures("clean")

NETWORK = (
    "SELECT s.code, s.gtfs_stop_id, s.name, s.kind, s.active, r.code AS route, rs.sequence,"
    " rs.minutes_from_start FROM stations s LEFT JOIN route_stops rs ON rs.station_id = s.id"
    " LEFT JOIN routes r ON r.id = rs.route_id ORDER BY s.code, r.code, rs.sequence"
)


async def _import(servers: ServerUrls, path: Path) -> ImportReport:
    connection = await asyncpg.connect(libpq_url(servers.database_url))
    try:
        return await import_gtfs(connection, path)
    finally:
        await connection.close()


async def _fetch(servers: ServerUrls, query: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(libpq_url(servers.database_url))
    try:
        return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


async def test_the_feed_becomes_the_network(
    test_servers: ServerUrls, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    report = await _import(test_servers, write_feed(valid_feed(), tmp_path / "feed.zip"))
    assert report == ImportReport(
        stations=5, routes=3, route_stops=8, routes_without_trips=1, retired_stations=0,
        retired_routes=0,
    )  # fmt: skip
    assert await _fetch(test_servers, NETWORK) == [
        ("00001", "Z1", "Cl 100 - Kr 15", "trunk", True, "T1", 2, 10),
        ("00001", "Z1", "Cl 100 - Kr 15", "trunk", True, "Z7", 1, 0),
        ("00002", "Z2", "Cl 90 - Kr 15", "trunk", True, "T1", 3, 20),
        ("00003", "Z3", "Cl 80 - Kr 15", "trunk", True, "T1", 4, 30),
        ("00004", "Z4", "Cl 100 - Kr 7", "zonal", True, "F1", 2, 12),
        ("00004", "Z4", "Cl 100 - Kr 7", "zonal", True, "Z7", 2, 15),
        ("09001", "P1", "Portal Uno", "portal", True, "F1", 1, 0),
        ("09001", "P1", "Portal Uno", "portal", True, "T1", 1, 0),
    ]
    route = (await client.get("/api/v1/routes/T1/details")).json()
    assert (route["kind"], route["name"]) == ("trunk", "Portal Uno - Calle 80")
    assert [(h["band"], h["headway_minutes"]) for h in route["headways"]] == [("peak_am", 10)]
    station = (await client.get("/api/v1/stations/09001/details")).json()
    assert [r["route_code"] for r in station["routes_serving"]] == ["F1", "T1"]


async def test_arrivals_follow_the_feeds_departures_past_midnight(
    test_servers: ServerUrls, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _import(test_servers, write_feed(valid_feed(), tmp_path / "feed.zip"))
    (z4,) = await _fetch(test_servers, "SELECT id FROM stations WHERE code = '00004'")
    # Monday 00:05: Z7's 24:50 trip of Sunday's service reaches Z4 at 01:05; then F1 (05:00
    # + 12) and Z7 (05:00 + 15) in the morning.
    response = await client.get(
        f"/api/v1/stations/{z4[0]}/arrivals",
        params={"at": "2025-03-10T00:05:00-05:00", "per_route": 2},
    )
    assert response.status_code == 200
    board = [(a["route_code"], a["scheduled_time"]) for a in response.json()["arrivals"]]
    assert board == [
        ("Z7", "2025-03-10T01:05:00-05:00"),
        ("F1", "2025-03-10T05:12:00-05:00"),
        ("Z7", "2025-03-10T05:15:00-05:00"),
        ("F1", "2025-03-10T05:32:00-05:00"),
    ]


async def test_a_refused_feed_writes_nothing(test_servers: ServerUrls, tmp_path: Path) -> None:
    await _import(test_servers, write_feed(valid_feed(), tmp_path / "first.zip"))
    before = await _fetch(test_servers, NETWORK)
    broken = valid_feed()
    broken["stops.txt"] = [row for row in broken["stops.txt"] if row[0] != "Z2"]
    broken["stops.txt"].append(["N1", "", "Nueva", "4.6", "-74.1", "0", ""])
    with pytest.raises(FeedRefused) as refused:
        await _import(test_servers, write_feed(broken, tmp_path / "broken.zip"))
    assert [str(p) for p in refused.value.problems] == [
        "stop_times.txt line 4: stop_id 'Z2' is not a stop in stops.txt"
    ]
    assert await _fetch(test_servers, NETWORK) == before


async def test_reimport_keeps_ids_and_retires_what_the_feed_dropped(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    await _import(test_servers, write_feed(valid_feed(), tmp_path / "first.zip"))
    ids_before = dict(await _fetch(test_servers, "SELECT gtfs_stop_id, id FROM stations"))
    # An alert names Z3 and T1: history that must keep pointing at real rows.
    await _fetch(
        test_servers,
        "INSERT INTO alerts (station_id, route_id, severity, cause, effect, message, active_from)"
        " SELECT s.id, r.id, 'info', 'construction', 'detour', 'obras', now()"
        " FROM stations s, routes r WHERE s.gtfs_stop_id = 'Z3' AND r.code = 'T1'",
    )
    second = valid_feed()
    # T1 now ends at Z2 and is renamed; Z3 is gone; a new stop Z5 is served by Z7.
    second["stops.txt"] = [row for row in second["stops.txt"] if row[0] != "Z3"]
    second["stops.txt"].append(["Z5", "", "Cl 110 - Kr 7", "4.69", "-74.03", "0", ""])
    second["trips.txt"] = [row for row in second["trips.txt"] if row[2] != "t1r"]
    times = second["stop_times.txt"]
    second["stop_times.txt"] = [r for r in times if r[3] != "Z3" and r[0] != "t1r"] + [
        ["z1", "05:25:00", "05:25:00", "Z5", "3"],
        ["z2", "05:45:00", "05:45:00", "Z5", "30"],
        ["z3", "25:15:00", "25:15:00", "Z5", "3"],
    ]
    second["stop_times.txt"][3][1:3] = ["06:20:00", "06:20:00"]  # Z2 is T1's last stop now
    second = replace_cell(second, "routes.txt", 1, "route_long_name", "Portal Uno - Calle 90")
    report = await _import(test_servers, write_feed(second, tmp_path / "second.zip"))
    assert (report.stations, report.retired_stations, report.retired_routes) == (5, 1, 0)
    ids_after = dict(await _fetch(test_servers, "SELECT gtfs_stop_id, id FROM stations"))
    assert {k: ids_after[k] for k in ids_before} == ids_before  # same rows, same ids
    stations = await _fetch(
        test_servers, "SELECT gtfs_stop_id, code, active FROM stations ORDER BY code"
    )
    assert stations == [
        ("Z1", "00001", True), ("Z2", "00002", True), ("Z3", "00003", False),
        ("Z4", "00004", True), ("Z5", "00005", True), ("P1", "09001", True),
    ]  # fmt: skip
    assert await _fetch(
        test_servers,
        "SELECT s.gtfs_stop_id, r.code FROM alerts a JOIN stations s ON s.id = a.station_id"
        " JOIN routes r ON r.id = a.route_id",
    ) == [("Z3", "T1")]
    assert await _fetch(
        test_servers,
        "SELECT r.name, array_agg(s.gtfs_stop_id ORDER BY rs.sequence) FROM routes r"
        " JOIN route_stops rs ON rs.route_id = r.id JOIN stations s ON s.id = rs.station_id"
        " WHERE r.code IN ('T1', 'Z7') GROUP BY r.name ORDER BY r.name",
    ) == [
        ("Calle 100 - Carrera 7", ["Z1", "Z4", "Z5"]),
        ("Portal Uno - Calle 90", ["P1", "Z1", "Z2"]),
    ]
