"""Export the network we serve as GTFS, import it into a scratch database: the same network.

Same stations (codes, names, kinds, corridors, localities, coordinates), routes (codes, names,
kinds, band headways), stop orders and minutes, the same arrivals, and an export of the copy
identical to the original export, file by file.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import ServerUrls
from travel_recharge.kit.scratch import libpq_url, scratch_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.network.arrivals import Arrival, Visit, next_arrivals
from travel_recharge.network.gtfs.service import export_gtfs, import_gtfs
from travel_recharge.network.gtfs.writing import Agency
from travel_recharge.network.loader import ReferenceCounts

ZONE = ZoneInfo("America/Bogota")
AGENCY = Agency("TransMilenio S.A.", "https://www.transmilenio.gov.co", "America/Bogota")
VALID_FROM = date(2025, 3, 1)
QUERIES = {
    "stations": "SELECT code, name, kind, corridor, locality_code, latitude, longitude, active"
    " FROM stations WHERE active ORDER BY code",
    "routes": "SELECT code, name, kind, headways FROM routes WHERE active ORDER BY code",
    "route_stops": "SELECT r.code, rs.sequence, s.code, rs.minutes_from_start FROM route_stops rs"
    " JOIN routes r ON r.id = rs.route_id JOIN stations s ON s.id = rs.station_id"
    " ORDER BY r.code, rs.sequence",
}
CALLS = (
    "SELECT r.code, r.name, r.headways, rs.minutes_from_start, r.departures FROM route_stops rs"
    " JOIN routes r ON r.id = rs.route_id JOIN stations s ON s.id = rs.station_id"
    " WHERE s.code = $1 AND r.active"
)
# A portal, trunk stations and zonal stops; mornings, a band change, late evening, overnight.
SAMPLE_STATIONS = ("02000", "02101", "07103", "20000", "21234", "26789")
SAMPLE_TIMES = ("05:58", "08:59", "16:00", "22:47", "23:55")


@pytest.fixture
def scratch(test_servers: ServerUrls) -> Iterator[str]:
    with scratch_database(test_servers.server_database_url, "tr_gtfs_copy") as url:
        upgrade_to_head(url)
        yield url


async def _export(url: str, out: Path) -> dict[str, bytes]:
    connection = await asyncpg.connect(libpq_url(url))
    try:
        await export_gtfs(connection, out, AGENCY, VALID_FROM)
    finally:
        await connection.close()
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def _network(url: str) -> tuple[dict[str, list[tuple[object, ...]]], list[list[Arrival]]]:
    connection = await asyncpg.connect(libpq_url(url))
    try:
        tables = {
            name: [tuple(row) for row in await connection.fetch(query)]
            for name, query in QUERIES.items()
        }
        boards = []
        for code in SAMPLE_STATIONS:
            visits = [
                Visit(row[0], row[1], "", _json(row[2]), row[3], row[4])
                for row in await connection.fetch(CALLS, code)
            ]
            for clock in SAMPLE_TIMES:
                hours, minutes = map(int, clock.split(":"))
                now = datetime(2025, 3, 10, hours, minutes, tzinfo=ZONE)
                boards.append(next_arrivals(visits, now, ZONE, 3))
        return tables, boards
    finally:
        await connection.close()


def _json(value: str) -> dict[str, int]:
    parsed: dict[str, int] = json.loads(value)
    return parsed


async def test_export_then_import_gives_the_same_network(
    reference_network: ReferenceCounts, test_servers: ServerUrls, scratch: str, tmp_path: Path
) -> None:
    original = await _export(test_servers.database_url, tmp_path / "original.zip")
    connection = await asyncpg.connect(libpq_url(scratch))
    try:
        report = await import_gtfs(connection, tmp_path / "original.zip")
    finally:
        await connection.close()
    assert (report.stations, report.routes, report.route_stops) == (
        reference_network.stations,
        reference_network.routes,
        reference_network.route_stops,
    )
    tables, boards = await _network(test_servers.database_url)
    copied_tables, copied_boards = await _network(scratch)
    for name, rows in tables.items():
        assert copied_tables[name] == rows, name
    assert sum(len(board) for board in boards) > 50  # the sample does see vehicles
    assert copied_boards == boards
    assert await _export(scratch, tmp_path / "copy.zip") == original
