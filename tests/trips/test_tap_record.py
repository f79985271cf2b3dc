"""What a tap leaves behind and where its limits lie, to the microsecond: the exact edges of
the future tolerance and of the offline window, the Bogotá month of the benefit trips at both
ends, the stored trip (its route and its fare window's anchor), an earlier tap's service kind
as read back for pricing, paging of a card's trips and its cache keys, and ending a trip.

Expected values come from the rules (../shared/DOMAIN.md and the shipped fare policies: 2023,
trunk 2,950, zonal 2,750, zonal-to-trunk transfer 200, 110 minutes; 2026, 3,550 a fare,
125 minutes, elderly 8 free trips a month), not from the service's code.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.conftest import TEST_ACCOUNT_ID, Network, ServerUrls, count_rows
from tests.money import balance, funded_card, tap
from travel_recharge.kit.db import DriverTransaction
from travel_recharge.kit.errors import Unprocessable
from travel_recharge.trips import service
from travel_recharge.trips.schemas import TapIn, TapOut

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550
BOGOTA = ZoneInfo("America/Bogota")


async def tap_with_clock(
    app: FastAPI, card_id: int, station_id: int, *, at: datetime, now: datetime
) -> TapOut:
    """One tap through the service with the service's clock at `now` (the endpoint reads the
    wall clock, so an edge a microsecond wide cannot be hit through HTTP), committed as the
    endpoint commits it."""
    request = TapIn(
        card_id=card_id,
        station_id=station_id,
        validator_id=f"V-{uuid.uuid4().hex[:8]}",
        tap_id=uuid.uuid4(),
        event_time=at,
    )
    async with app.state.database.primary.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        async with driver.transaction():
            unit = DriverTransaction(driver)
            answer, created = await service.tap(
                unit,
                app.state.cache,
                request,
                now,
                app.state.settings,
                account_id=TEST_ACCOUNT_ID,
            )
        await unit.run_hooks()
    assert created
    return answer


async def rows(app: FastAPI, query: str, *args: object) -> list[tuple[Any, ...]]:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(query, args)
        return [tuple(row) for row in result.all()]


async def test_a_tap_exactly_at_the_future_tolerance_is_priced_and_a_microsecond_past_is_not(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    tolerance = timedelta(seconds=app.state.settings.tap_future_tolerance_s)
    assert tolerance == timedelta(minutes=5)
    card_id = await funded_card(client, 10000)
    now = datetime.now(UTC)
    with pytest.raises(Unprocessable, match=r"^event_time: is in the future$"):
        await tap_with_clock(
            app,
            card_id,
            network.trunk_station,
            at=now + tolerance + timedelta(microseconds=1),
            now=now,
        )
    edge = await tap_with_clock(app, card_id, network.trunk_station, at=now + tolerance, now=now)
    assert (edge.event_time, edge.fare_charged, edge.fare_kind) == (
        now + tolerance,
        FARE_2026,
        "full",
    )
    assert await count_rows(app, "trips") == 1
    assert await balance(client, card_id) == 10000 - FARE_2026


async def test_a_tap_exactly_as_old_as_the_offline_window_is_priced_and_older_is_not(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    window = timedelta(seconds=app.state.settings.tap_offline_window_s)
    assert window == timedelta(days=3)
    card_id = await funded_card(client, 10000)
    now = datetime.now(UTC)
    with pytest.raises(Unprocessable, match=r"^event_time: is older than the offline window"):
        await tap_with_clock(
            app,
            card_id,
            network.trunk_station,
            at=now - window - timedelta(microseconds=1),
            now=now,
        )
    edge = await tap_with_clock(app, card_id, network.trunk_station, at=now - window, now=now)
    assert (edge.event_time, edge.fare_charged, edge.fare_kind) == (now - window, FARE_2026, "full")
    assert await count_rows(app, "trips") == 1
    assert await balance(client, card_id) == 10000 - FARE_2026


FREE, FULL = (0, "free_trip", True), (FARE_2026, "full", False)


async def elderly_boardings(
    client: httpx.AsyncClient, network: Network
) -> Callable[[datetime], Awaitable[tuple[int, str, bool]]]:
    """A card with 8 free trips a month and one fare of balance, and its boardings (fare,
    kind, benefit used). One trunk station every time: the same stop again is never a
    transfer, so every boarding is priced as a new fare."""
    card_id = await funded_card(client, FARE_2026, "personalized", profile="elderly")

    async def boarding(at: datetime) -> tuple[int, str, bool]:
        response = await tap(client, card_id, station_id=network.trunk_station, at=at)
        assert response.status_code == 201, response.text
        body = response.json()
        return body["fare_charged"], body["fare_kind"], body["benefit_trip_used"]

    return boarding


@pytest.mark.usefixtures("wide_offline_window")
async def test_the_benefit_month_starts_at_bogota_midnight_on_the_first(
    client: httpx.AsyncClient, network: Network
) -> None:
    """March 2026 in Bogotá starts at 1 March 00:00:00.000000 local time: a free trip at that
    very microsecond is one of March's eight, whenever in March the next tap comes."""
    boarding = await elderly_boardings(client, network)
    assert await boarding(datetime(2026, 3, 1, 0, 0, tzinfo=BOGOTA)) == FREE
    for day in range(2, 9):
        assert await boarding(datetime(2026, 3, day, 8, 0, tzinfo=BOGOTA)) == FREE
    # The month's last instants: hour, minute, second and microsecond all far from zero.
    last = datetime(2026, 3, 31, 23, 59, 59, 999_999, tzinfo=BOGOTA)
    assert await boarding(last) == FULL


@pytest.mark.usefixtures("wide_offline_window")
async def test_a_late_tap_of_a_month_does_not_count_the_next_months_trips(
    client: httpx.AsyncClient, network: Network
) -> None:
    """March 2026 in Bogotá ends before 1 April 00:00 local time: April's first trip, made
    before a late March tap arrives, is not one of March's."""
    boarding = await elderly_boardings(client, network)
    for day in range(2, 9):
        assert await boarding(datetime(2026, 3, day, 8, 0, tzinfo=BOGOTA)) == FREE
    assert await boarding(datetime(2026, 4, 1, 0, 0, tzinfo=BOGOTA)) == FREE
    # Late from 31 March: the eighth March trip is free, the ninth pays.
    assert await boarding(datetime(2026, 3, 31, 22, 0, tzinfo=BOGOTA)) == FREE
    assert await boarding(datetime(2026, 3, 31, 23, 0, tzinfo=BOGOTA)) == FULL


@pytest.mark.usefixtures("wide_offline_window")
async def test_an_earlier_zonal_tap_makes_a_2023_transfer_to_trunk_cost_200(
    client: httpx.AsyncClient, network: Network
) -> None:
    """In 2023 only a zonal-to-trunk transfer cost 200; trunk-to-zonal was free. The price of
    the transfer depends on the earlier tap's service kind, read back from the database."""
    card_id = await funded_card(client, 20000, "personalized")
    start = datetime(2023, 6, 1, 8, 0, tzinfo=BOGOTA)

    async def priced(response: httpx.Response) -> tuple[int, str, int]:
        assert response.status_code == 201, response.text
        body = response.json()
        return body["fare_charged"], body["fare_kind"], body["balance_after"]

    zonal = await tap(client, card_id, route_code=network.zonal_route, at=start)
    assert await priced(zonal) == (2750, "full", 20000 - 2750)
    to_trunk = await tap(
        client, card_id, station_id=network.trunk_station, at=start + timedelta(minutes=20)
    )
    assert await priced(to_trunk) == (200, "transfer", 20000 - 2950)
    # A new window from a trunk boarding: its transfer to a zonal route is free.
    later = start + timedelta(hours=3)
    trunk = await tap(client, card_id, station_id=network.other_trunk_station, at=later)
    assert await priced(trunk) == (2950, "full", 20000 - 5900)
    to_zonal = await tap(
        client, card_id, route_code=network.zonal_route, at=later + timedelta(minutes=20)
    )
    assert await priced(to_zonal) == (0, "transfer", 20000 - 5900)
    assert await balance(client, card_id) == 20000 - 5900


async def test_the_stored_trip_keeps_its_route_and_the_anchor_of_its_fare_window(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    """A full fare anchors a personalized card's window at its own time, a transfer keeps its
    window's anchor; a basic card has no window. The route boarded is answered on the first
    tap and on its retry alike."""
    card_id = await funded_card(client, 20000, "personalized")
    anchor_at = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    full = await tap(client, card_id, station_id=network.trunk_station, at=anchor_at)
    assert full.status_code == 201, full.text
    tap_id = str(uuid.uuid4())
    transfer_at = anchor_at + timedelta(minutes=25)
    transfer = await tap(
        client, card_id, route_code=network.zonal_route, at=transfer_at, tap_id=tap_id
    )
    assert transfer.status_code == 201, transfer.text
    assert (transfer.json()["fare_kind"], transfer.json()["route_code"]) == (
        "transfer",
        network.zonal_route,
    )
    retry = await tap(
        client,
        card_id,
        route_code=network.zonal_route,
        at=transfer_at,
        tap_id=tap_id,
        validator=transfer.json()["validator_id"],
    )
    assert retry.json() == {**transfer.json(), "duplicate": True}
    basic_id = await funded_card(client, 10000)
    basic = await tap(client, basic_id, route_code=network.other_zonal_route, at=anchor_at)
    assert basic.status_code == 201, basic.text
    assert basic.json()["route_code"] == network.other_zonal_route

    stored = await rows(
        app,
        "SELECT t.card_id, r.code, t.window_anchor, t.account_id FROM trips t"
        " LEFT JOIN routes r ON r.id = t.route_id ORDER BY t.id",
    )
    assert stored == [
        (card_id, None, anchor_at, TEST_ACCOUNT_ID),
        (card_id, network.zonal_route, anchor_at, TEST_ACCOUNT_ID),
        (basic_id, network.other_zonal_route, None, TEST_ACCOUNT_ID),
    ]


async def test_a_cards_trips_come_page_by_page_newest_first(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 20000)
    start = datetime.now(UTC) - timedelta(hours=2)
    trip_ids = []
    for minutes in (0, 30, 60):
        response = await tap(
            client, card_id, station_id=network.trunk_station, at=start + timedelta(minutes=minutes)
        )
        assert response.status_code == 201, response.text
        trip_ids.append(response.json()["trip_id"])
    newest_first = trip_ids[::-1]
    for offset, trip_id in enumerate(newest_first):
        page = await client.get(
            f"/api/v1/trips/card/{card_id}", params={"limit": 1, "offset": offset}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert [t["trip_id"] for t in body["trips"]] == [trip_id]
        assert body["page"] == {"limit": 1, "offset": offset, "returned": 1}
    two = (await client.get(f"/api/v1/trips/card/{card_id}", params={"limit": 2})).json()
    assert [t["trip_id"] for t in two["trips"]] == newest_first[:2]
    past = (await client.get(f"/api/v1/trips/card/{card_id}", params={"offset": 3})).json()
    assert (past["trips"], past["page"]["returned"]) == ([], 0)


async def test_ending_a_trip_answers_both_ends_and_a_cached_trips_view_shows_it(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    boarded = await tap(client, card_id, station_id=network.trunk_station)
    assert boarded.status_code == 201, boarded.text
    trip_id = boarded.json()["trip_id"]
    trips_url = f"/api/v1/trips/card/{card_id}"
    (before,) = (await client.get(trips_url)).json()["trips"]  # cached now
    assert (before["disembarking_station_id"], before["disembarking_time"]) == (None, None)
    end = {"trip_id": trip_id, "station_id": network.other_trunk_station}
    ended = await client.post("/api/v1/trips/end", json=end)
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body == {
        "trip_id": trip_id,
        "card_id": card_id,
        "boarding_station_id": network.trunk_station,
        "disembarking_station_id": network.other_trunk_station,
        "boarding_time": boarded.json()["event_time"],
        "disembarking_time": body["disembarking_time"],
    }
    (after,) = (await client.get(trips_url)).json()["trips"]
    assert after["disembarking_station_id"] == network.other_trunk_station
    assert after["disembarking_time"] == body["disembarking_time"]

    again = await client.post("/api/v1/trips/end", json=end)
    assert again.status_code == 409
    ended_at = datetime.fromisoformat(body["disembarking_time"]).isoformat()
    assert again.json() == {
        "error": "conflict",
        "detail": f"trip {trip_id} already ended at {ended_at}",
    }
    missing = await client.post("/api/v1/trips/end", json={**end, "trip_id": trip_id + 1000})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "detail": f"trip {trip_id + 1000} does not exist",
    }


async def test_each_cacheable_page_of_trips_has_its_own_key_and_other_pages_none(
    client: httpx.AsyncClient, network: Network, test_servers: ServerUrls
) -> None:
    """Pages of the usual sizes are cached one key each; any other limit/offset pair is
    answered from PostgreSQL without a key (kit.pagination says why)."""
    card_id = await funded_card(client, 20000)
    for minutes in (90, 60, 30):
        at = datetime.now(UTC) - timedelta(minutes=minutes)
        assert (await tap(client, card_id, station_id=network.trunk_station, at=at)).is_success
    url = f"/api/v1/trips/card/{card_id}"
    first = (await client.get(url, params={"limit": 10})).json()
    assert len(first["trips"]) == 3
    second = (await client.get(url, params={"limit": 10, "offset": 10})).json()
    assert (second["trips"], second["page"]) == ([], {"limit": 10, "offset": 10, "returned": 0})
    odd = (await client.get(url, params={"limit": 2, "offset": 1})).json()
    assert [t["trip_id"] for t in odd["trips"]] == [t["trip_id"] for t in first["trips"][1:]]
    assert await trips_cache_fields(test_servers, card_id) == ["trips:10:0", "trips:10:10"]


async def trips_cache_fields(servers: ServerUrls, card_id: int) -> list[str]:
    """The cached fields of the card's trips views (key layout in kit.cache.scripts)."""
    redis = Redis.from_url(servers.redis_url)
    try:
        prefix = f"{servers.namespace}:"
        pattern = f"{prefix}*:cards:{card_id}:f:trips:*"
        keys = [key.decode() async for key in redis.scan_iter(match=pattern, count=500)]
    finally:
        await redis.aclose()
    return sorted(key.split(":f:", 1)[1] for key in keys)
