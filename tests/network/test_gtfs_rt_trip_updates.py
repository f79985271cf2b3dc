"""The GTFS-Realtime trip updates feed, read back with the bindings: hand-computed on a tiny
timetable, and compared with the arrivals endpoint station by station.

The timetable is test_arrivals.TIMETABLE (Bogotá local time, UTC-5): T1 runs Alfa 10001 (0 min)
- Beta 10002 (10) - Gama 10003 (25) - Delta 10004 (30, closed), early every 8 min from 04:00,
peak_am every 4 from 06:00, evening every 10; Z9 Gama (0) - Beta (7), peak_pm every 15; X1
is inactive; L1 circles Alfa (0) - Gama (12) - Alfa (30), midday every 20. The horizon is
the default 30 minutes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.transit import gtfs_realtime_pb2 as rt

from tests.network.conftest import cache_outcomes
from tests.network.feeds import json_feed, posix, protobuf_feed
from tests.network.test_arrivals import TIMETABLE

pytestmark = pytest.mark.usefixtures("timetable")

STATIONS = {1: "10001", 2: "10002", 3: "10003", 4: "10004"}


@pytest.fixture
async def timetable(app: FastAPI, clean: None) -> None:
    async with app.state.database.primary.begin() as connection:
        for statement in TIMETABLE:
            await connection.exec_driver_sql(statement)


def local_clock(posix_time: int) -> str:
    return datetime.fromtimestamp(posix_time, tz=_UTC_MINUS_5).strftime("%H:%M")


_UTC_MINUS_5 = datetime.fromisoformat("2025-03-10T00:00:00-05:00").tzinfo


def trips(message: rt.FeedMessage) -> list[tuple[str, str, str, str, list[tuple[int, str, str]]]]:
    """(entity id, route, start date, start time, [(sequence, stop, local HH:MM)]) per trip."""
    found = []
    for entity in message.entity:
        assert not entity.HasField("alert")
        update = entity.trip_update
        trip = update.trip
        assert trip.direction_id == 0
        assert trip.schedule_relationship == rt.TripDescriptor.SCHEDULED
        calls = []
        for call in update.stop_time_update:
            # No vehicle feed: predicted equals scheduled, no delay.
            assert call.arrival.time == call.arrival.scheduled_time
            assert call.arrival.delay == 0
            assert call.schedule_relationship == rt.TripUpdate.StopTimeUpdate.SCHEDULED
            calls.append((call.stop_sequence, call.stop_id, local_clock(call.arrival.time)))
        found.append((entity.id, trip.route_id, trip.start_date, trip.start_time, calls))
    return found


def calls_at(message: rt.FeedMessage, stop_id: str) -> set[tuple[str, int]]:
    """(route, arrival time) of every call the feed lists at the stop."""
    return {
        (entity.trip_update.trip.route_id, call.arrival.time)
        for entity in message.entity
        for call in entity.trip_update.stop_time_update
        if call.stop_id == stop_id
    }


async def test_trips_in_the_next_half_hour_computed_by_hand(client: httpx.AsyncClient) -> None:
    at = "2025-03-10T06:00:30-05:00"
    message = await protobuf_feed(client, "trip-updates", at=at)
    assert message.header.timestamp == posix("2025-03-10T06:00:00-05:00")
    # Window 06:00-06:30. T1's early departures 05:36, 05:44, 05:52 are still on their way;
    # peak_am leaves every 4 min from 06:00. Delta is closed: no call there. Z9 and L1 do
    # not run at this hour, X1 is inactive. Trips by their first listed call.
    assert trips(message) == [
        ("T1-20250310-0600", "T1", "20250310", "06:00:00",
         [(1, "10001", "06:00"), (2, "10002", "06:10"), (3, "10003", "06:25")]),
        ("T1-20250310-0536", "T1", "20250310", "05:36:00", [(3, "10003", "06:01")]),
        ("T1-20250310-0552", "T1", "20250310", "05:52:00",
         [(2, "10002", "06:02"), (3, "10003", "06:17")]),
        ("T1-20250310-0604", "T1", "20250310", "06:04:00",
         [(1, "10001", "06:04"), (2, "10002", "06:14"), (3, "10003", "06:29")]),
        ("T1-20250310-0608", "T1", "20250310", "06:08:00",
         [(1, "10001", "06:08"), (2, "10002", "06:18")]),
        ("T1-20250310-0544", "T1", "20250310", "05:44:00", [(3, "10003", "06:09")]),
        ("T1-20250310-0612", "T1", "20250310", "06:12:00",
         [(1, "10001", "06:12"), (2, "10002", "06:22")]),
        ("T1-20250310-0616", "T1", "20250310", "06:16:00",
         [(1, "10001", "06:16"), (2, "10002", "06:26")]),
        ("T1-20250310-0620", "T1", "20250310", "06:20:00", [(1, "10001", "06:20")]),
        ("T1-20250310-0624", "T1", "20250310", "06:24:00", [(1, "10001", "06:24")]),
        ("T1-20250310-0628", "T1", "20250310", "06:28:00", [(1, "10001", "06:28")]),
    ]  # fmt: skip
    # Runs of the export's frequency-based trip of T1, whose trip_id is the route's.
    assert {entity.trip_update.trip.trip_id for entity in message.entity} == {"T1"}


async def test_the_json_view_says_what_the_protobuf_says(client: httpx.AsyncClient) -> None:
    at = "2025-03-10T06:00:00-05:00"
    message = await protobuf_feed(client, "trip-updates", at=at, route_id="T1")
    body = await json_feed(client, "trip-updates", at=at, route_id="T1")
    assert body["header"]["timestamp"] == message.header.timestamp
    assert (body["at"], body["horizon_minutes"]) == (at, 30)
    assert len(body["entity"]) == len(message.entity) == 11
    first: dict[str, Any] = body["entity"][0]
    assert first["id"] == "T1-20250310-0600"
    assert first["trip"] == {
        "trip_id": "T1",
        "route_id": "T1",
        "direction_id": 0,
        "start_date": "20250310",
        "start_time": "06:00:00",
        "schedule_relationship": "SCHEDULED",
    }
    assert first["stop_time_update"][1] == {
        "stop_sequence": 2,
        "stop_id": "10002",
        "scheduled_time": "2025-03-10T06:10:00-05:00",
        "predicted_time": "2025-03-10T06:10:00-05:00",
        "delay": 0,
        "predicted": False,
    }
    for entity, update in zip(message.entity, body["entity"], strict=True):
        assert entity.id == update["id"]
        assert [
            (c.stop_sequence, c.stop_id, c.arrival.time, c.arrival.scheduled_time)
            for c in entity.trip_update.stop_time_update
        ] == [
            (
                c["stop_sequence"],
                c["stop_id"],
                posix(c["predicted_time"]),
                posix(c["scheduled_time"]),
            )
            for c in update["stop_time_update"]
        ]


@pytest.mark.parametrize(
    "at",
    [
        "2025-03-10T05:55:00-05:00",  # early band into peak_am
        "2025-03-10T09:35:00-05:00",  # midday: the circular L1 calls at Alfa twice
        "2025-03-10T15:50:00-05:00",  # Z9 starts at 16:00
        "2025-03-10T22:45:00-05:00",  # the last evening departures arrive after 23:00
        "2025-03-11T03:40:00-05:00",  # the night gap, then Tuesday's first departures
    ],
)
async def test_each_station_s_calls_are_its_arrivals_up_to_the_horizon(
    client: httpx.AsyncClient, at: str
) -> None:
    message = await protobuf_feed(client, "trip-updates", at=at)
    until = posix(at) + 30 * 60
    compared = 0
    for station, stop_id in STATIONS.items():
        response = await client.get(
            f"/api/v1/stations/{station}/arrivals", params={"at": at, "per_route": 10}
        )
        assert response.status_code == 200
        arrivals = {
            (arrival["route_code"], posix(arrival["predicted_time"]))
            for arrival in response.json()["arrivals"]
            if posix(arrival["predicted_time"]) < until
        }
        assert calls_at(message, stop_id) == arrivals, stop_id
        # The stop's own feed lists the same calls, and no other stop's.
        own = await protobuf_feed(client, "trip-updates", at=at, stop_id=stop_id)
        assert calls_at(own, stop_id) == arrivals
        assert {c.stop_id for e in own.entity for c in e.trip_update.stop_time_update} <= {stop_id}
        compared += len(arrivals)
    assert compared > 0


async def test_a_route_s_feed_holds_its_trips_only(client: httpx.AsyncClient) -> None:
    at = "2025-03-10T09:35:00-05:00"
    whole = await protobuf_feed(client, "trip-updates", at=at)
    assert {e.trip_update.trip.route_id for e in whole.entity} == {"L1"}
    assert trips(await protobuf_feed(client, "trip-updates", at=at, route_id="L1")) == trips(whole)
    # L1 leaves Alfa every 20 min: the 09:20 vehicle is at Gama at 09:32 (gone) and back at
    # Alfa at 09:50; the 09:40 one calls at Alfa 09:40 and Gama 09:52 (10:10 is past the
    # window, 09:35-10:05); the 10:00 one leaves Alfa inside it.
    assert trips(whole) == [
        ("L1-20250310-0940", "L1", "20250310", "09:40:00",
         [(1, "10001", "09:40"), (2, "10003", "09:52")]),
        ("L1-20250310-0920", "L1", "20250310", "09:20:00", [(3, "10001", "09:50")]),
        ("L1-20250310-1000", "L1", "20250310", "10:00:00", [(1, "10001", "10:00")]),
    ]  # fmt: skip
    # A route that exists but does not run now, and one that is suspended: no trips.
    assert trips(await protobuf_feed(client, "trip-updates", at=at, route_id="Z9")) == []
    assert trips(await protobuf_feed(client, "trip-updates", at=at, route_id="X1")) == []


async def test_a_closed_station_has_no_calls(client: httpx.AsyncClient) -> None:
    message = await protobuf_feed(client, "trip-updates", at="2025-03-10T06:20:00-05:00")
    assert "10004" not in {
        c.stop_id for e in message.entity for c in e.trip_update.stop_time_update
    }
    closed = await protobuf_feed(client, "trip-updates", stop_id="10004")
    assert list(closed.entity) == []


async def test_the_present_minute_is_cached(client: httpx.AsyncClient, app: FastAPI) -> None:
    first = await client.get("/api/v1/gtfs-rt/trip-updates", params={"route_id": "T1"})
    hits, _ = cache_outcomes(app, "arrivals")
    again = await client.get("/api/v1/gtfs-rt/trip-updates", params={"route_id": "T1"})
    assert again.status_code == first.status_code == 200
    if again.content != first.content:  # a new minute began between the two: one more try
        first = again
        hits, _ = cache_outcomes(app, "arrivals")
        again = await client.get("/api/v1/gtfs-rt/trip-updates", params={"route_id": "T1"})
    assert again.content == first.content
    assert cache_outcomes(app, "arrivals")[0] == hits + 1


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ({"format": "csv"}, 422, "format"),
        ({"stop_id": ""}, 422, "stop_id"),
        ({"stop_id": "1" * 256}, 422, "stop_id"),
        ({"stop_id": "123"}, 404, "station 123"),
        ({"stop_id": "99999"}, 404, "station 99999"),
        ({"route_id": ""}, 422, "route_id"),
        ({"route_id": "Q99"}, 404, "route Q99"),
        ({"at": "yesterday"}, 422, "at"),
        ({"at": "2025-03-10T06:00:00"}, 422, "at"),  # no UTC offset
        ({"at": "1900-01-01T00:00:00Z"}, 422, "at"),
    ],
)
async def test_bad_parameters_are_refused_clearly(
    client: httpx.AsyncClient, params: dict[str, str], status: int, names: str
) -> None:
    response = await client.get("/api/v1/gtfs-rt/trip-updates", params=params)
    assert response.status_code == status, response.text
    assert names in response.text


async def test_the_document_offers_both_media_types(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/gtfs-rt/alerts", "/api/v1/gtfs-rt/trip-updates"):
        operation = paths[path]["get"]
        content = operation["responses"]["200"]["content"]
        assert set(content) == {"application/json", "application/x-protobuf"}
        assert content["application/x-protobuf"]["schema"] == {"type": "string", "format": "binary"}
        (feed_format,) = [p for p in operation["parameters"] if p["name"] == "format"]
        assert feed_format["schema"]["enum"] == ["protobuf", "json"]


# A route imported from a GTFS feed keeps the feed's ids and its own departures (seconds from
# the service day's start): four 10 minutes apart from 06:00 (one frequency-based trip in the
# export) and a lone one at 25:05, that is 01:05 the next morning (a trip of its own).
IMPORTED = [
    "INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude, longitude,"
    " gtfs_stop_id) VALUES (11, '30001', 'Uno', 'zonal', NULL, '14', 4.6, -74.1, 'stop-a'),"
    " (12, '30002', 'Dos', 'zonal', NULL, '14', 4.61, -74.1, 'stop-b')",
    "INSERT INTO routes (id, code, name, kind, headways, gtfs_route_id, departures) VALUES"
    " (9, 'G1', 'Importada', 'zonal', '{}', 'route-g', '{21600, 22200, 22800, 23400, 90300}')",
    "INSERT INTO route_stops (route_id, sequence, station_id, minutes_from_start) VALUES"
    " (9, 1, 11, 0), (9, 2, 12, 20)",
]


@pytest.fixture
async def imported(app: FastAPI, timetable: None) -> None:
    async with app.state.database.primary.begin() as connection:
        for statement in IMPORTED:
            await connection.exec_driver_sql(statement)


@pytest.mark.usefixtures("imported")
async def test_an_imported_route_speaks_its_feed_s_ids_and_trips(
    client: httpx.AsyncClient,
) -> None:
    at = "2025-03-10T06:05:00-05:00"
    message = await protobuf_feed(client, "trip-updates", at=at, route_id="route-g")
    # Window 06:05-06:35: runs of the frequency-based trip "route-g".
    runs = [
        (e.id, e.trip_update.trip.trip_id, e.trip_update.trip.start_time) for e in message.entity
    ]
    assert runs == [
        ("route-g-20250310-0610", "route-g", "06:10:00"),
        ("route-g-20250310-0600", "route-g", "06:00:00"),
        ("route-g-20250310-0620", "route-g", "06:20:00"),
        ("route-g-20250310-0630", "route-g", "06:30:00"),
    ]  # fmt: skip
    assert calls_at(message, "stop-b") == {
        ("route-g", posix("2025-03-10T06:20:00-05:00")),
        ("route-g", posix("2025-03-10T06:30:00-05:00")),
    }
    # After midnight: the lone 25:05 departure of Monday's service day, a trip of its own.
    night = "2025-03-11T00:50:00-05:00"
    message = await protobuf_feed(client, "trip-updates", at=night, stop_id="stop-a")
    assert trips(message) == [
        ("route-g-20250310-2505", "route-g", "20250310", "25:05:00", [(1, "stop-a", "01:05")])
    ]
    assert message.entity[0].trip_update.trip.trip_id == "route-g@25:05:00"
    arrivals = await client.get("/api/v1/stations/11/arrivals", params={"at": night})
    first = arrivals.json()["arrivals"][0]
    assert (first["route_code"], first["predicted_time"]) == ("G1", "2025-03-11T01:05:00-05:00")
    # Our own codes are not the feed's ids for this route and stop.
    for params in ({"route_id": "G1"}, {"stop_id": "30001"}):
        response = await client.get("/api/v1/gtfs-rt/trip-updates", params=params)
        assert response.status_code == 404, params

    # An alert on that route at that station informs the feed's ids.
    created = await client.post(
        "/api/v1/alerts",
        json={
            "station_id": 11,
            "route_code": "G1",
            "severity": "info",
            "cause": "WEATHER",
            "effect": "SIGNIFICANT_DELAYS",
            "message": "Lluvia fuerte",
        },
    )
    assert created.status_code == 201, created.text
    (entity,) = (await protobuf_feed(client, "alerts")).entity
    (informed,) = entity.alert.informed_entity
    assert (informed.route_id, informed.stop_id) == ("route-g", "stop-a")
