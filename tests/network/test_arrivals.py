"""Arrivals from headways and stop offsets, on a fixed clock, with hand-computed times.

Bands (network.reference.BANDS): early 04-06, peak_am 06-09, midday 09-16, peak_pm 16-20,
evening 20-23, Bogotá local time (UTC-5, no daylight saving); no departures 23:00-04:00.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.network.conftest import cache_outcomes
from travel_recharge.network.arrivals import Arrival, Visit, minute_of, next_arrivals

BOGOTA = ZoneInfo("America/Bogota")
UTC_MINUS_5 = timezone(timedelta(hours=-5))


def local(text: str) -> datetime:
    """A Bogotá wall-clock time on Monday 2025-03-10 (or the given date), e.g. "05:55"."""
    day, _, clock = text.rpartition(" ")
    return datetime.fromisoformat(f"{day or '2025-03-10'}T{clock}:00-05:00")


def visit(
    code: str, headways: Mapping[str, int], minutes_from_start: int, destination: str = "End"
) -> Visit:
    return Visit(code, f"Route {code}", destination, headways, minutes_from_start)


def clock(arrivals: list[Arrival]) -> list[tuple[str, str, int]]:
    """(route, local "MM-DD HH:MM", minutes away) of each arrival."""
    return [
        (a.route_code, a.scheduled_time.strftime("%m-%d %H:%M"), a.minutes_away) for a in arrivals
    ]


def test_departures_restart_at_each_band_start() -> None:
    # Early every 8 min from 04:00: ... 05:44, 05:52 (06:00 belongs to peak_am, every 4 min
    # from 06:00). The stop is 10 min out, so at 05:55 the first useful departure is 05:52.
    found = next_arrivals([visit("T1", {"early": 8, "peak_am": 4}, 10)], local("05:55"), BOGOTA, 3)
    assert clock(found) == [
        ("T1", "03-10 06:02", 7),
        ("T1", "03-10 06:10", 15),
        ("T1", "03-10 06:14", 19),
    ]


def test_a_vehicle_already_past_the_stop_is_not_listed() -> None:
    # Departures 06:00, 06:04, ...; the stop is 3 min out: 06:03 is gone at 06:05, 06:07 is next.
    found = next_arrivals([visit("T1", {"peak_am": 4}, 3)], local("06:05"), BOGOTA, 2)
    assert clock(found) == [("T1", "03-10 06:07", 2), ("T1", "03-10 06:11", 6)]


def test_an_arrival_in_the_current_minute_is_listed_with_zero_minutes() -> None:
    found = next_arrivals([visit("T1", {"peak_am": 4}, 3)], local("06:07"), BOGOTA, 1)
    assert clock(found) == [("T1", "03-10 06:07", 0)]


def test_a_route_without_a_headway_in_the_band_waits_for_its_next_band() -> None:
    # Peak-only route asked at 10:00: nothing in midday, the next departure is 16:00.
    found = next_arrivals(
        [visit("B23", {"peak_am": 5, "peak_pm": 6}, 0)], local("10:00"), BOGOTA, 2
    )
    assert clock(found) == [("B23", "03-10 16:00", 360), ("B23", "03-10 16:06", 366)]


def test_late_departures_arrive_after_23_then_the_night_gap() -> None:
    # Evening every 10 min: the last departure is 22:50 and reaches a stop 25 min out at 23:15.
    # Nothing leaves 23:00-04:00; the next is Tuesday 04:00 (early, every 8), at the stop 04:25.
    route = visit("T1", {"early": 8, "evening": 10}, 25)
    assert clock(next_arrivals([route], local("23:10"), BOGOTA, 3)) == [
        ("T1", "03-10 23:15", 5),
        ("T1", "03-11 04:25", 315),
        ("T1", "03-11 04:33", 323),
    ]
    # Past the last arrival, in the night gap: first of Tuesday's early band.
    assert clock(next_arrivals([route], local("23:50"), BOGOTA, 1)) == [("T1", "03-11 04:25", 275)]


def test_a_long_route_arrives_after_midnight() -> None:
    # 22:50 + 80 min = 00:10 on Tuesday; asked at 00:05 it is 5 min away.
    found = next_arrivals([visit("Z1", {"evening": 10}, 80)], local("2025-03-11 00:05"), BOGOTA, 2)
    assert clock(found) == [("Z1", "03-11 00:10", 5), ("Z1", "03-11 21:20", 1275)]


def test_a_route_that_never_runs_has_no_arrivals() -> None:
    assert next_arrivals([visit("X", {}, 0)], local("07:00"), BOGOTA, 3) == []


def test_several_routes_are_merged_soonest_first_each_limited() -> None:
    found = next_arrivals(
        [visit("B", {"peak_am": 10}, 0), visit("A", {"peak_am": 6}, 1)], local("07:00"), BOGOTA, 2
    )
    # B: 07:00, 07:10. A: departures 06:54 -> 06:55 (gone), 07:00 -> 07:01, 07:06 -> 07:07.
    assert clock(found) == [
        ("B", "03-10 07:00", 0),
        ("A", "03-10 07:01", 1),
        ("A", "03-10 07:07", 7),
        ("B", "03-10 07:10", 10),
    ]


def test_a_circular_route_counts_both_calls_once_per_minute() -> None:
    # Calls at 0 and 40 min: departures 09:00, 09:20, 09:40... The 09:00 vehicle is back at
    # 09:40 when the 09:40 one leaves: one entry for that minute.
    calls = [visit("L1", {"midday": 20}, 0), visit("L1", {"midday": 20}, 40)]
    found = next_arrivals(calls, local("09:30"), BOGOTA, 3)
    assert clock(found) == [
        ("L1", "03-10 09:40", 10),
        ("L1", "03-10 10:00", 30),
        ("L1", "03-10 10:20", 50),
    ]


def test_predicted_equals_scheduled_without_a_vehicle_feed() -> None:
    (arrival,) = next_arrivals([visit("T1", {"peak_am": 4}, 3)], local("06:07"), BOGOTA, 1)
    assert arrival.predicted_time == arrival.scheduled_time
    assert arrival.predicted is False
    assert arrival.scheduled_time.utcoffset() == timedelta(hours=-5)


def test_minute_of_truncates_in_utc() -> None:
    assert minute_of(datetime(2025, 3, 10, 7, 0, 59, 999, tzinfo=UTC_MINUS_5)) == datetime(
        2025, 3, 10, 12, 0, tzinfo=UTC
    )


# The endpoint, on a tiny timetable whose answers are computed by hand.

TIMETABLE = [
    "INSERT INTO localities (code, name) VALUES ('14', 'Los Mártires')",
    "INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude, longitude,"
    " active) VALUES (1, '10001', 'Alfa', 'trunk', 'A', '14', 4.6, -74.08, true),"
    " (2, '10002', 'Beta', 'trunk', 'A', '14', 4.61, -74.08, true),"
    " (3, '10003', 'Gama', 'trunk', 'A', '14', 4.62, -74.08, true),"
    " (4, '10004', 'Delta (cerrada)', 'trunk', 'A', '14', 4.63, -74.08, false)",
    "INSERT INTO routes (id, code, name, kind, active, headways) VALUES"
    " (1, 'T1', 'Alfa - Gama', 'trunk', true, '{\"early\": 8, \"peak_am\": 4, \"evening\": 10}'),"
    " (2, 'Z9', 'Gama - Beta', 'zonal', true, '{\"peak_pm\": 15}'),"
    " (3, 'X1', 'Suspendida', 'zonal', false, '{\"peak_am\": 5}'),"
    " (4, 'L1', 'Circular Alfa', 'feeder', true, '{\"midday\": 20}')",
    "INSERT INTO route_stops (route_id, sequence, station_id, minutes_from_start) VALUES"
    " (1, 1, 1, 0), (1, 2, 2, 10), (1, 3, 3, 25), (1, 4, 4, 30),"
    " (2, 1, 3, 0), (2, 2, 2, 7),"
    " (3, 1, 1, 0), (3, 2, 2, 4),"
    " (4, 1, 1, 0), (4, 2, 3, 12), (4, 3, 1, 30)",
]


@pytest.fixture
async def timetable(app: FastAPI, clean: None) -> None:
    async with app.state.database.primary.begin() as connection:
        for statement in TIMETABLE:
            await connection.exec_driver_sql(statement)


def board(body: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (a["route_code"], a["destination"], a["scheduled_time"], a["minutes_away"])
        for a in body["arrivals"]
    ]


async def arrivals(client: httpx.AsyncClient, station_id: int, **params: object) -> httpx.Response:
    return await client.get(f"/api/v1/stations/{station_id}/arrivals", params=params)


@pytest.mark.usefixtures("timetable")
async def test_arrivals_at_a_station_on_a_fixed_clock(client: httpx.AsyncClient) -> None:
    # Beta at Monday 05:55:42: computed for 05:55. T1 calls 10 min out (see the band test);
    # Z9 calls 7 min out and runs only 16-20 every 15; X1 is inactive.
    response = await arrivals(client, 2, at="2025-03-10T05:55:42-05:00")
    assert response.status_code == 200
    body = response.json()
    assert (body["station_id"], body["station_code"], body["station_name"]) == (2, "10002", "Beta")
    assert body["at"] == "2025-03-10T05:55:00-05:00"
    assert board(body) == [
        ("T1", "Delta (cerrada)", "2025-03-10T06:02:00-05:00", 7),
        ("T1", "Delta (cerrada)", "2025-03-10T06:10:00-05:00", 15),
        ("T1", "Delta (cerrada)", "2025-03-10T06:14:00-05:00", 19),
        ("Z9", "Beta", "2025-03-10T16:07:00-05:00", 612),
        ("Z9", "Beta", "2025-03-10T16:22:00-05:00", 627),
        ("Z9", "Beta", "2025-03-10T16:37:00-05:00", 642),
    ]
    first = body["arrivals"][0]
    assert first["predicted_time"] == first["scheduled_time"]
    assert first["predicted"] is False
    assert first["route_name"] == "Alfa - Gama"


@pytest.mark.usefixtures("timetable")
async def test_arrivals_across_the_night_gap_and_per_route(client: httpx.AsyncClient) -> None:
    # Gama at 23:10 (given in UTC): T1's 22:50 departure arrives 23:15; then Tuesday 04:00+25.
    # Z9 starts here (0 min) at 16:00 Tuesday; L1 calls 12 min out, midday every 20 min.
    response = await arrivals(client, 3, at="2025-03-11T04:10:00Z", per_route=2)
    assert board(response.json()) == [
        ("T1", "Delta (cerrada)", "2025-03-10T23:15:00-05:00", 5),
        ("T1", "Delta (cerrada)", "2025-03-11T04:25:00-05:00", 315),
        ("L1", "Alfa", "2025-03-11T09:12:00-05:00", 602),
        ("L1", "Alfa", "2025-03-11T09:32:00-05:00", 622),
        ("Z9", "Beta", "2025-03-11T16:00:00-05:00", 1010),
        ("Z9", "Beta", "2025-03-11T16:15:00-05:00", 1025),
    ]


@pytest.mark.usefixtures("timetable")
async def test_arrivals_of_a_circular_route_at_its_terminus(client: httpx.AsyncClient) -> None:
    # Alfa at 09:05: L1 leaves at 09:20, 09:40 and is back (30 min) at 09:30 from 09:00.
    # T1 runs no midday: its next departure from Alfa is 20:00.
    response = await arrivals(client, 1, at="2025-03-10T09:05:00-05:00")
    assert board(response.json()) == [
        ("L1", "Alfa", "2025-03-10T09:20:00-05:00", 15),
        ("L1", "Alfa", "2025-03-10T09:30:00-05:00", 25),
        ("L1", "Alfa", "2025-03-10T09:40:00-05:00", 35),
        ("T1", "Delta (cerrada)", "2025-03-10T20:00:00-05:00", 655),
        ("T1", "Delta (cerrada)", "2025-03-10T20:10:00-05:00", 665),
        ("T1", "Delta (cerrada)", "2025-03-10T20:20:00-05:00", 675),
    ]


@pytest.mark.usefixtures("timetable")
async def test_a_closed_station_has_no_arrivals(client: httpx.AsyncClient) -> None:
    response = await arrivals(client, 4, at="2025-03-10T07:00:00-05:00")
    assert response.status_code == 200
    assert response.json()["arrivals"] == []


@pytest.mark.usefixtures("timetable")
async def test_live_arrivals_are_cached_per_station_and_minute(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    at = datetime.now(UTC).isoformat()
    hits, misses = cache_outcomes(app, "arrivals")
    first = await arrivals(client, 2, at=at)
    assert cache_outcomes(app, "arrivals") == (hits, misses + 1)
    second = await arrivals(client, 2, at=at)
    assert cache_outcomes(app, "arrivals") == (hits + 1, misses + 1)
    assert second.content == first.content
    # Another station in the same minute is its own entry.
    await arrivals(client, 1, at=at)
    assert cache_outcomes(app, "arrivals") == (hits + 1, misses + 2)
    # A minute far from now is computed from PostgreSQL, not cached.
    await arrivals(client, 2, at="2025-03-10T05:55:00-05:00")
    await arrivals(client, 2, at="2025-03-10T05:55:00-05:00")
    assert cache_outcomes(app, "arrivals") == (hits + 1, misses + 2)


@pytest.mark.usefixtures("timetable")
@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/stations/999/arrivals", {}, 404, None),
        (f"/api/v1/stations/{2**31}/arrivals", {}, 422, "station_id"),
        (f"/api/v1/stations/{2**63}/arrivals", {}, 422, "station_id"),
        ("/api/v1/stations/0/arrivals", {}, 422, "station_id"),
        ("/api/v1/stations/abc/arrivals", {}, 422, "station_id"),
        ("/api/v1/stations/2/arrivals", {"at": "2025-03-10T07:00:00"}, 422, "at"),
        ("/api/v1/stations/2/arrivals", {"at": "yesterday"}, 422, "at"),
        ("/api/v1/stations/2/arrivals", {"at": "1999-12-31T23:00:00Z"}, 422, "at"),
        ("/api/v1/stations/2/arrivals", {"at": "9999-12-31T23:59:00-05:00"}, 422, "at"),
        ("/api/v1/stations/2/arrivals", {"per_route": 0}, 422, "per_route"),
        ("/api/v1/stations/2/arrivals", {"per_route": 11}, 422, "per_route"),
    ],
)
async def test_bad_arrival_requests(
    client: httpx.AsyncClient, path: str, params: dict[str, object], status: int, field: str | None
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status
    body = response.json()
    if field is None:
        assert body == {"error": "not_found", "detail": "station 999 does not exist"}
    else:
        assert body["error"] == "validation_error"
        assert body["detail"].startswith(f"{field}: ")
