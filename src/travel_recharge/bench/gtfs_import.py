"""How long `network import-gtfs` takes on a feed the size of Bogotá's.

The feed is generated (deterministic for a seed) into a temporary directory and imported into
a scratch database on the configured server, dropped afterwards: nothing generated is kept.
Bogotá's published feed has about 8,300 stops and 1,000 routes; every trip here has its own
stop_times (no frequencies), both directions, which is the heavy case for the reader.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from travel_recharge.kit.scratch import scratch_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.network.gtfs.reading import format_time
from travel_recharge.network.gtfs.service import ImportReport, import_gtfs
from travel_recharge.network.gtfs.writing import CALENDAR

FIRST_DEPARTURE = 4 * 3600 + 30 * 60
SERVICE_HOURS = 18


@dataclass(frozen=True)
class FeedSize:
    stops: int = 8300
    routes: int = 1000
    trips_per_direction: int = 60
    random_seed: int = 0


def _member(archive: zipfile.ZipFile, name: str, rows: list[list[object]]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    archive.writestr(name, text.getvalue())


def generate_feed(path: Path, size: FeedSize) -> int:
    """Write the feed; returns its number of stop_times rows."""
    rng = random.Random(size.random_seed)
    stops: list[list[object]] = [["stop_id", "stop_name", "stop_lat", "stop_lon"]]
    for i in range(size.stops):
        lat, lon = round(rng.uniform(4.47, 4.83), 6), round(rng.uniform(-74.22, -74.02), 6)
        stops.append([f"S{i}", f"Parada {i}", lat, lon])
    routes: list[list[object]] = [["route_id", "route_short_name", "route_long_name", "route_type"]]
    trips: list[list[object]] = [["route_id", "service_id", "trip_id", "direction_id"]]
    stop_times_count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("stop_times.txt", "w") as raw, io.TextIOWrapper(raw, "utf-8") as text:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(
                ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]
            )
            for r in range(size.routes):
                route_type = 702 if r % 10 == 0 else 3
                routes.append([f"R{r}", f"{r}", f"Ruta {r}", route_type])
                pattern = rng.sample(range(size.stops), rng.randint(15, 45))
                minutes = [0]
                for _ in pattern[1:]:
                    minutes.append(minutes[-1] + rng.randint(1, 4))
                gap = SERVICE_HOURS * 3600 // size.trips_per_direction
                for direction, order in ((0, pattern), (1, pattern[::-1])):
                    for t in range(size.trips_per_direction):
                        trip_id = f"R{r}-{direction}-{t}"
                        trips.append([f"R{r}", "WK", trip_id, direction])
                        start = FIRST_DEPARTURE + t * gap + rng.randint(-60, 60)
                        for sequence, (stop, offset) in enumerate(zip(order, minutes, strict=True)):
                            at = format_time(start + offset * 60)
                            writer.writerow([trip_id, at, at, f"S{stop}", sequence + 1])
                            stop_times_count += 1
        _member(
            archive,
            "agency.txt",
            [
                ["agency_name", "agency_url", "agency_timezone"],
                ["Bench", "https://example.org", "America/Bogota"],
            ],
        )
        _member(
            archive,
            "calendar.txt",
            [
                list(CALENDAR),
                ["WK", 1, 1, 1, 1, 1, 0, 0, "20250101", "20251231"],
            ],
        )
        _member(archive, "stops.txt", stops)
        _member(archive, "routes.txt", routes)
        _member(archive, "trips.txt", trips)
    return stop_times_count


@dataclass(frozen=True)
class ImportMeasurement:
    stop_times: int
    feed_bytes: int
    generate_s: float
    import_s: float
    report: ImportReport


async def _import(url: str, feed: Path) -> ImportReport:
    connection = await asyncpg.connect(url)
    try:
        return await import_gtfs(connection, feed)
    finally:
        await connection.close()


def measure_import(server_url: str, size: FeedSize) -> ImportMeasurement:
    with tempfile.TemporaryDirectory() as directory:
        feed = Path(directory) / "feed.zip"
        started = time.perf_counter()
        stop_times = generate_feed(feed, size)
        generated = time.perf_counter()
        with scratch_database(server_url, "tr_bench_gtfs") as url:
            upgrade_to_head(url)
            begun = time.perf_counter()
            report = asyncio.run(_import(url, feed))
            ended = time.perf_counter()
        return ImportMeasurement(
            stop_times, feed.stat().st_size, generated - started, ended - begun, report
        )
