"""Writing our network as a GTFS feed: one template trip per route, timed by frequencies.

A route's departures (its own, or its band headways expanded) become frequencies.txt windows
with exact_times=1, so a feed of 600 routes stays a few thousand stop_times; departures that
form no regular run become trips of their own. What GTFS cannot say about a station (its
locality and trunk corridor) goes in extra stops.txt columns, which consumers ignore and our
import reads back. The zip is written beside `out` and moved over it when complete.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from travel_recharge.network.gtfs.kinds import ROUTE_TYPE_OF_KIND
from travel_recharge.network.gtfs.reading import format_time
from travel_recharge.network.gtfs.stops import CORRIDOR_COLUMN, LOCALITY_COLUMN
from travel_recharge.network.gtfs.timetable import band_departures, windows_and_singles

if TYPE_CHECKING:
    from _csv import Writer

SERVICE_ID = "daily"  # our timetable is the same every day
VALID_DAYS = 365
AGENCY_ID = "1"
AGENCY = ("agency_id", "agency_name", "agency_url", "agency_timezone")
CALENDAR = (
    "service_id",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "start_date",
    "end_date",
)
STOPS = (
    "stop_id",
    "stop_code",
    "stop_name",
    "stop_lat",
    "stop_lon",
    "location_type",
    LOCALITY_COLUMN,
    CORRIDOR_COLUMN,
)
ROUTES = ("route_id", "agency_id", "route_short_name", "route_long_name", "route_type")
TRIPS = ("route_id", "service_id", "trip_id", "direction_id")
STOP_TIMES = ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence")
FREQUENCIES = ("trip_id", "start_time", "end_time", "headway_secs", "exact_times")


@dataclass(frozen=True, slots=True)
class Agency:
    name: str
    url: str
    timezone: str


@contextmanager
def _csv(archive: zipfile.ZipFile, name: str, header: Sequence[str]) -> Iterator[Writer]:
    """A CSV member of the zip. Rows go to a temporary file first: a zip takes one member at
    a time, and trips, stop_times and frequencies are written side by side."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        writer = csv.writer(spool, lineterminator="\n")
        writer.writerow(header)
        yield writer
        spool.seek(0)
        with archive.open(name, "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as text:
            shutil.copyfileobj(spool, text)


def _departures(route: asyncpg.Record) -> list[int]:
    if route["departures"] is not None:
        return list(route["departures"])
    headways: Mapping[str, int] = json.loads(route["headways"])
    return band_departures(headways)


def _write_stops(archive: zipfile.ZipFile, stations: Sequence[asyncpg.Record]) -> None:
    with _csv(archive, "stops.txt", STOPS) as rows:
        for s in stations:
            rows.writerow(
                (
                    s["gtfs_stop_id"] or s["code"],
                    s["code"],
                    s["name"],
                    repr(s["latitude"]),
                    repr(s["longitude"]),
                    0,
                    s["locality_code"],
                    s["corridor"] or "",
                )
            )


def write_feed(
    out: Path,
    agency: Agency,
    valid_from: date,
    stations: Sequence[asyncpg.Record],
    routes: Sequence[asyncpg.Record],
    calls: Mapping[int, list[tuple[str, str, int]]],
) -> None:
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        with _csv(archive, "agency.txt", AGENCY) as rows:
            rows.writerow((AGENCY_ID, agency.name, agency.url, agency.timezone))
        valid_until = valid_from + timedelta(days=VALID_DAYS - 1)
        with _csv(archive, "calendar.txt", CALENDAR) as rows:
            rows.writerow((SERVICE_ID, *[1] * 7, f"{valid_from:%Y%m%d}", f"{valid_until:%Y%m%d}"))
        _write_stops(archive, stations)
        with _csv(archive, "routes.txt", ROUTES) as rows:
            for r in routes:
                rows.writerow(
                    (
                        r["gtfs_route_id"] or r["code"],
                        AGENCY_ID,
                        r["code"],
                        r["name"],
                        ROUTE_TYPE_OF_KIND[r["kind"]],
                    )
                )
        _write_trips(archive, routes, calls)
    partial.replace(out)


def _write_trips(
    archive: zipfile.ZipFile,
    routes: Sequence[asyncpg.Record],
    calls: Mapping[int, list[tuple[str, str, int]]],
) -> None:
    with (
        _csv(archive, "trips.txt", ("route_id", "service_id", "trip_id", "direction_id")) as trips,
        _csv(
            archive,
            "stop_times.txt",
            ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
        ) as stop_times,
        _csv(
            archive,
            "frequencies.txt",
            ("trip_id", "start_time", "end_time", "headway_secs", "exact_times"),
        ) as frequencies,
    ):
        for route in routes:
            route_id = route["gtfs_route_id"] or route["code"]
            stops = calls.get(route["id"], [])
            windows, singles = windows_and_singles(_departures(route))
            starts = [(f"{route_id}", windows[0].start)] if windows else []
            starts += [(f"{route_id}@{format_time(single)}", single) for single in singles]
            for trip_id, start in starts:
                trips.writerow((route_id, SERVICE_ID, trip_id, 0))
                for sequence, (_, stop_id, minutes) in enumerate(stops, start=1):
                    at = format_time(start + minutes * 60)
                    stop_times.writerow((trip_id, at, at, stop_id, sequence))
            for window in windows:
                frequencies.writerow(
                    (
                        route_id,
                        format_time(window.start),
                        format_time(window.end),
                        window.headway,
                        1,
                    )
                )
