"""Reading and checking a feed (no database): what a valid feed becomes, why a broken one is
refused. Every refusal names the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.network.gtfs.feeds import Feed, replace_cell, valid_feed, write_feed
from travel_recharge.network.gtfs.errors import FeedRefused
from travel_recharge.network.gtfs.feed import read_feed
from travel_recharge.network.gtfs.timetable import (
    band_departures,
    band_headways,
    windows_and_singles,
)


def _hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def test_a_valid_feed_becomes_stations_and_routes(tmp_path: Path) -> None:
    network = read_feed(write_feed(valid_feed(), tmp_path / "feed.zip"))
    kinds = {s.feed.gtfs_id: (s.feed.code, s.kind) for s in network.stations}
    assert kinds == {
        "P1": ("09001", "portal"),  # trunk and feeder routes turn here
        "Z1": (None, "trunk"),
        "Z2": (None, "trunk"),
        "Z3": (None, "trunk"),
        "Z4": (None, "zonal"),
    }
    routes = {r.code: r for r in network.routes}
    assert sorted(routes) == ["F1", "T1", "Z7"]
    assert network.routes_without_trips == 1
    t1 = routes["T1"]
    assert (t1.kind, t1.name) == ("trunk", "Portal Uno - Calle 80")
    # Platforms map to their station; Z2's blank time is interpolated between 06:10 and 06:30.
    assert t1.stations == ("P1", "Z1", "Z2", "Z3")
    assert t1.minutes == (0, 10, 20, 30)
    assert t1.departures == tuple(range(_hm("06:00"), _hm("09:00"), 600))
    assert dict(t1.headways) == {"peak_am": 10}
    z7 = routes["Z7"]
    assert (z7.kind, z7.stations, z7.minutes) == ("zonal", ("Z1", "Z4"), (0, 15))
    # Weekday trips only (not Saturday's 11:00); 24:50 is 00:50 after the service day.
    assert z7.departures == (_hm("05:00"), _hm("05:20"), _hm("24:50"))
    assert dict(z7.headways) == {"early": 20}
    f1 = routes["F1"]
    assert (f1.kind, f1.minutes) == ("feeder", (0, 12))
    assert dict(f1.headways) == {"early": 20, "peak_am": 20}


def _refusal(feed: Feed, tmp_path: Path) -> list[str]:
    with pytest.raises(FeedRefused) as refused:
        read_feed(write_feed(feed, tmp_path / "feed.zip"))
    return [str(problem) for problem in refused.value.problems]


def test_missing_required_files_are_named(tmp_path: Path) -> None:
    feed = valid_feed()
    del feed["stop_times.txt"], feed["calendar.txt"]
    assert _refusal(feed, tmp_path) == [
        "stop_times.txt: required file is missing",
        "calendar.txt (or calendar_dates.txt): required file is missing",
    ]


def test_calendar_dates_alone_is_a_calendar(tmp_path: Path) -> None:
    feed = valid_feed()
    del feed["calendar.txt"]
    feed["calendar_dates.txt"] = [
        ["service_id", "date", "exception_type"],
        ["WK", "20250310", "1"],
        ["SAT", "20250315", "1"],
    ]
    network = read_feed(write_feed(feed, tmp_path / "feed.zip"))
    # No service is known to run on Mondays: every trip counts, Saturday's included.
    z7 = next(r for r in network.routes if r.code == "Z7")
    assert len(z7.departures) == 4


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "problem"),
    [
        ("stop_times.txt", 3, "stop_id", "NOPE",
         "stop_times.txt line 4: stop_id 'NOPE' is not a stop in stops.txt"),
        ("stop_times.txt", 1, "stop_id", "P1",  # a station, not a stop a vehicle calls at
         "stop_times.txt line 2: stop_id 'P1' is not a stop in stops.txt"),
        ("stop_times.txt", 7, "trip_id", "ghost",
         "stop_times.txt line 8: trip_id 'ghost' is not in trips.txt"),
        ("trips.txt", 2, "route_id", "R404",
         "trips.txt line 3: route_id 'R404' is not in routes.txt"),
        ("trips.txt", 3, "service_id", "HOLIDAY",
         "trips.txt line 4: service_id 'HOLIDAY' is in neither calendar.txt nor "
         "calendar_dates.txt"),
        ("routes.txt", 1, "agency_id", "B",
         "routes.txt line 2: agency_id 'B' is not in agency.txt"),
        ("routes.txt", 2, "route_type", "bus",
         "routes.txt line 3: route_type 'bus' is not a GTFS type"),
        ("stops.txt", 2, "parent_station", "P9",
         "stops.txt line 3: parent_station 'P9' is not a station in stops.txt"),
        ("stops.txt", 4, "stop_lat", "north",
         "stops.txt line 5: stop_lat 'north' is not a number"),
        ("stop_times.txt", 2, "arrival_time", "6:7:00",
         "stop_times.txt line 3: arrival_time '6:7:00' is not H:MM:SS"),
        ("stop_times.txt", 7, "arrival_time", "05:61:00",
         "stop_times.txt line 8: arrival_time '05:61:00' is not H:MM:SS"),
        ("frequencies.txt", 1, "end_time", "05:00:00",
         "frequencies.txt line 2: end_time is not after start_time"),
        ("calendar.txt", 1, "end_date", "2025-12-31",
         "calendar.txt line 2: start_date and end_date must be YYYYMMDD"),
    ],
)  # fmt: skip
def test_a_broken_value_is_refused_by_file_line_and_problem(
    tmp_path: Path, file: str, row: int, column: str, value: str, problem: str
) -> None:
    assert _refusal(replace_cell(valid_feed(), file, row, column, value), tmp_path) == [problem]


def test_a_trip_whose_times_go_backwards_is_refused(tmp_path: Path) -> None:
    feed = replace_cell(valid_feed(), "stop_times.txt", 8, "arrival_time", "04:00:00")
    assert _refusal(feed, tmp_path) == [
        "stop_times.txt: trip 'z1': times go backwards along stop_sequence"
    ]


def test_a_missing_column_is_refused_at_the_header(tmp_path: Path) -> None:
    feed = valid_feed()
    feed["trips.txt"] = [
        [value for i, value in enumerate(row) if i != 1] for row in feed["trips.txt"]
    ]
    problems = _refusal(feed, tmp_path)
    assert problems[0] == "trips.txt line 1: missing required column service_id"


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.zip"
    path.write_text("stop_id,stop_name\n")
    with pytest.raises(FeedRefused, match="not a zip archive"):
        read_feed(path)


def test_times_past_24_are_the_next_morning_of_the_service_day() -> None:
    # 25:05 is 01:05 after the service day's start; band headways only count 04:00-23:00.
    assert band_headways([_hm("24:50"), _hm("25:05")]) == {}


def test_departures_survive_windows_and_singles() -> None:
    departures = band_departures({"early": 50, "peak_am": 4, "evening": 15})
    departures += [_hm("24:10"), _hm("25:00")]
    windows, singles = windows_and_singles(departures)
    expanded = [d for w in windows for d in range(w.start, w.end, w.headway)] + singles
    assert sorted(expanded) == sorted(departures)
    assert all(w.start < w.end < w.start + (w.end - w.start) + w.headway for w in windows)
    assert band_headways(departures) == {"early": 50, "peak_am": 4, "evening": 15}
