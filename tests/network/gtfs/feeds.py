"""Small GTFS feeds built in the tests: a valid one, and a way to break it one file at a time.

The valid feed (what test_import expects of it):
- P1 is a station (stop_code 09001) with two platforms; Z1-Z4 are plain stops without codes;
  E1 is an entrance (skipped).
- T1 (route_type 702, trunk): P1 Z1 Z2 Z3, Z2's time blank (interpolated), every 10 min
  06:00-09:00 by frequencies; its reverse trip (direction 1) is not the imported order.
- Z7 (route_type 3, zonal): Z1 Z4 at 05:00, 05:20 and 24:50 (after midnight) on weekdays,
  and at 11:00 on Saturdays (not the imported weekday).
- F1 (route_type 711, feeder): P1 Z4, every 20 min 05:00-07:00 by frequencies.
- X9 has no trips.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

Feed = dict[str, list[list[str]]]


def valid_feed() -> Feed:
    return {
        "agency.txt": [
            ["agency_id", "agency_name", "agency_url", "agency_timezone"],
            ["A", "Tránsito de Prueba", "https://example.org", "America/Bogota"],
        ],
        "stops.txt": [
            [
                "stop_id",
                "stop_code",
                "stop_name",
                "stop_lat",
                "stop_lon",
                "location_type",
                "parent_station",
            ],
            ["P1", "09001", "Portal Uno", "4.70", "-74.05", "1", ""],
            ["P1a", "", "Portal Uno vagón A", "4.7001", "-74.0501", "0", "P1"],
            ["P1b", "", "Portal Uno vagón B", "4.7002", "-74.0502", "", "P1"],
            ["Z1", "", "Cl 100 - Kr 15", "4.68", "-74.05", "0", ""],
            ["Z2", "", "Cl 90 - Kr 15", "4.67", "-74.05", "0", ""],
            ["Z3", "", "Cl 80 - Kr 15", "4.66", "-74.06", "0", ""],
            ["Z4", "", "Cl 100 - Kr 7", "4.68", "-74.03", "0", ""],
            ["E1", "", "Entrada Portal Uno", "4.70", "-74.05", "2", "P1"],
        ],
        "routes.txt": [
            ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"],
            ["R1", "A", "T1", "Portal Uno - Calle 80", "702"],
            ["R2", "A", "Z7", "Calle 100 - Carrera 7", "3"],
            ["R3", "A", "F1", "Portal Uno - Carrera 7 (circular)", "711"],
            ["R4", "A", "X9", "Sin viajes", "3"],
        ],
        "calendar.txt": [
            [
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
            ],
            ["WK", "1", "1", "1", "1", "1", "0", "0", "20250101", "20251231"],
            ["SAT", "0", "0", "0", "0", "0", "1", "0", "20250101", "20251231"],
        ],
        "trips.txt": [
            ["route_id", "service_id", "trip_id", "direction_id"],
            ["R1", "WK", "t1", "0"],
            ["R1", "WK", "t1r", "1"],
            ["R2", "WK", "z1", "0"],
            ["R2", "WK", "z2", "0"],
            ["R2", "WK", "z3", "0"],
            ["R2", "SAT", "zsat", "0"],
            ["R3", "WK", "f1", ""],
        ],
        "stop_times.txt": [
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
            ["t1", "06:00:00", "06:00:00", "P1a", "1"],
            ["t1", "06:10:00", "06:10:30", "Z1", "2"],
            ["t1", "", "", "Z2", "3"],
            ["t1", "06:30:00", "06:30:00", "Z3", "4"],
            ["t1r", "06:00:00", "06:00:00", "Z3", "1"],
            ["t1r", "06:30:00", "06:30:00", "P1b", "2"],
            ["z1", "05:00:00", "05:00:00", "Z1", "1"],
            ["z1", "05:15:00", "05:15:00", "Z4", "2"],
            # Stop order comes from stop_sequence, not from the file's order.
            ["z2", "05:35:00", "05:35:00", "Z4", "20"],
            ["z2", "05:20:00", "05:20:00", "Z1", "10"],
            ["z3", "24:50:00", "24:50:00", "Z1", "1"],
            ["z3", "25:05:00", "25:05:00", "Z4", "2"],
            ["zsat", "11:00:00", "11:00:00", "Z1", "1"],
            ["zsat", "11:15:00", "11:15:00", "Z4", "2"],
            ["f1", "00:00:00", "00:00:00", "P1b", "1"],
            ["f1", "00:12:00", "00:12:00", "Z4", "2"],
        ],
        "frequencies.txt": [
            ["trip_id", "start_time", "end_time", "headway_secs"],
            ["t1", "06:00:00", "09:00:00", "600"],
            ["f1", "05:00:00", "07:00:00", "1200"],
        ],
    }


def write_feed(feed: Feed, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in feed.items():
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            archive.writestr(name, text.getvalue())
    return path


def replace_cell(feed: Feed, file: str, row: int, column: str, value: str) -> Feed:
    """A copy of `feed` with one value changed (row 1 is the first data row)."""
    changed = {name: [list(r) for r in rows] for name, rows in feed.items()}
    header = changed[file][0]
    changed[file][row][header.index(column)] = value
    return changed
