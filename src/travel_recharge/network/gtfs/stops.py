"""stops.txt: the stations and stops a feed names, as rows of our stations table.

A platform or stop with a parent station is boarded at that station: a card taps at the
station, so the parent becomes the row and its platforms map to it. Entrances, generic nodes
and boarding areas (location_type 2-4) are not places a vehicle calls at and are skipped.
A stop keeps its own code when the feed gives a five-digit stop_code (or stop_id); the others
get free codes when they are written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from travel_recharge.network.gtfs.errors import Problems
from travel_recharge.network.gtfs.reading import FeedArchive, Row

FILE = "stops.txt"
NAME_MAX = 120  # stations.name
_FIVE_DIGITS = re.compile(r"^\d{5}$")
# Columns only our own export writes: what GTFS cannot say about a station (see export).
LOCALITY_COLUMN = "tr_locality_code"
CORRIDOR_COLUMN = "tr_corridor"


@dataclass(frozen=True, slots=True)
class FeedStation:
    gtfs_id: str
    code: str | None  # the feed's own five-digit code, if it has one
    name: str
    latitude: float
    longitude: float
    locality_code: str | None
    corridor: str | None


@dataclass(frozen=True, slots=True)
class FeedStops:
    stations: dict[str, FeedStation]  # by stop_id
    station_of_stop: dict[str, str]  # every boardable stop_id -> its station's stop_id


def _coordinate(row: Row, column: str, limit: float, problems: Problems) -> float:
    try:
        value = float(row[column])
    except ValueError:
        problems.add(row.file, row.line, f"{column} {row[column]!r} is not a number")
        return 0.0
    if not -limit <= value <= limit:
        problems.add(row.file, row.line, f"{column} {value} is out of range")
    return value


def _station(row: Row, problems: Problems) -> FeedStation:
    name = row["stop_name"]
    if not name:
        problems.add(row.file, row.line, "stop_name is empty")
    elif len(name) > NAME_MAX:
        problems.add(row.file, row.line, f"stop_name is longer than {NAME_MAX} characters")
    if len(row[CORRIDOR_COLUMN]) > 2:
        problems.add(row.file, row.line, f"{CORRIDOR_COLUMN} is longer than 2 characters")
    code = next((c for c in (row["stop_code"], row["stop_id"]) if _FIVE_DIGITS.match(c)), None)
    return FeedStation(
        gtfs_id=row["stop_id"],
        code=code,
        name=name,
        latitude=_coordinate(row, "stop_lat", 90.0, problems),
        longitude=_coordinate(row, "stop_lon", 180.0, problems),
        locality_code=row[LOCALITY_COLUMN] or None,
        corridor=row[CORRIDOR_COLUMN] or None,
    )


def read_stops(feed: FeedArchive, problems: Problems) -> FeedStops:
    stations: dict[str, FeedStation] = {}
    parents: dict[str, tuple[str, int]] = {}  # stop_id -> (parent_station, line)
    boardable: set[str] = set()
    seen: set[str] = set()
    for row in feed.rows(FILE, ("stop_id",), problems):
        stop_id = row["stop_id"]
        if not stop_id:
            problems.add(FILE, row.line, "stop_id is empty")
            continue
        if stop_id in seen:
            problems.add(FILE, row.line, f"stop_id {stop_id!r} appears twice")
            continue
        seen.add(stop_id)
        location_type = row["location_type"] or "0"
        if location_type not in {"0", "1", "2", "3", "4"}:
            problems.add(FILE, row.line, f"location_type {location_type!r} is not 0-4")
            continue
        if location_type not in {"0", "1"}:
            continue
        parent = row["parent_station"]
        if location_type == "1" and parent:
            problems.add(FILE, row.line, "a station (location_type 1) has a parent_station")
        if location_type == "0":
            boardable.add(stop_id)
            if parent:
                parents[stop_id] = (parent, row.line)
                continue
        stations[stop_id] = _station(row, problems)
    station_of_stop = {stop_id: stop_id for stop_id in boardable}
    for stop_id, (parent, line) in parents.items():
        if parent not in stations or parent in boardable:
            problems.add(FILE, line, f"parent_station {parent!r} is not a station in stops.txt")
        station_of_stop[stop_id] = parent
    return FeedStops(stations, station_of_stop)
