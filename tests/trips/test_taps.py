"""Taps priced by the fare policy, duplicates, declines that write nothing, trip ends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows, ledger_ok
from tests.money import balance, funded_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def test_full_fare_at_a_trunk_station(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 10000)
    response = await tap(client, card_id, station_id=network.trunk_station, validator="TM-02000-01")
    assert response.status_code == 201
    body = response.json()
    assert body["fare_charged"] == FARE_2026
    assert body["fare_kind"] == "full"
    assert body["service_kind"] == "trunk"
    assert body["is_transfer"] is False
    assert body["balance_after"] == 10000 - FARE_2026
    assert body["duplicate"] is False
    # Basic cards have no transfers, so there is no window to report.
    assert body["transfer_window_left_seconds"] is None
    view = (await client.get(f"/api/v1/cards/{card_id}/balance")).json()
    assert view["balance"] == 10000 - FARE_2026
    assert view["last_used_date"] is not None
    await ledger_ok(client)


async def test_personalized_transfers_are_free_inside_the_window(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 20000, "personalized")
    start = minutes_ago(100)
    first = (await tap(client, card_id, route_code=network.zonal_route, at=start)).json()
    assert (first["fare_charged"], first["fare_kind"]) == (FARE_2026, "full")
    assert first["transfer_window_left_seconds"] == 125 * 60
    second = (
        await tap(
            client, card_id, station_id=network.trunk_station, at=start + timedelta(minutes=40)
        )
    ).json()
    assert (second["fare_charged"], second["is_transfer"]) == (0, True)
    assert second["transfer_window_left_seconds"] == 85 * 60
    third = (
        await tap(client, card_id, route_code=network.other_zonal_route, at=minutes_ago(30))
    ).json()
    assert (third["fare_charged"], third["transfers_in_window"]) == (0, 2)
    assert third["transfer_window_left_seconds"] is None  # the 2 transfers are used
    fourth = (
        await tap(client, card_id, station_id=network.other_trunk_station, at=minutes_ago(10))
    ).json()
    assert (fourth["fare_charged"], fourth["fare_kind"]) == (FARE_2026, "full")
    assert await balance(client, card_id) == 20000 - 2 * FARE_2026
    await ledger_ok(client)


async def test_basic_cards_pay_every_boarding(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 20000)
    first = await tap(client, card_id, route_code=network.zonal_route, at=minutes_ago(20))
    assert first.status_code == 201, first.text
    assert (first.json()["fare_charged"], first.json()["is_transfer"]) == (FARE_2026, False)
    second = await tap(client, card_id, station_id=network.trunk_station, at=minutes_ago(5))
    assert second.status_code == 201, second.text
    assert (second.json()["fare_charged"], second.json()["is_transfer"]) == (FARE_2026, False)
    assert await balance(client, card_id) == 20000 - 2 * FARE_2026


async def test_same_route_again_is_a_new_fare(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 20000, "personalized")
    first = await tap(client, card_id, route_code=network.zonal_route, at=minutes_ago(30))
    assert first.status_code == 201, first.text
    assert (first.json()["fare_charged"], first.json()["fare_kind"]) == (FARE_2026, "full")
    # The window the first tap opened is still running: only the route makes this a new fare.
    assert first.json()["transfer_window_left_seconds"] == 125 * 60
    again = await tap(client, card_id, route_code=network.zonal_route, at=minutes_ago(10))
    assert again.status_code == 201, again.text
    assert (again.json()["fare_charged"], again.json()["is_transfer"]) == (FARE_2026, False)
    assert await balance(client, card_id) == 20000 - 2 * FARE_2026


async def test_a_retried_tap_is_charged_once(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    tap_id = str(uuid.uuid4())
    first = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    retry = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["duplicate"] is True
    assert retry.json()["trip_id"] == first.json()["trip_id"]
    assert await balance(client, card_id) == 10000 - FARE_2026
    assert await count_rows(app, "trips") == 1
    other_card = await funded_card(client, 10000)
    stolen = await tap(client, other_card, station_id=network.trunk_station, tap_id=tap_id)
    assert stolen.status_code == 409


async def test_double_tap_at_one_validator_within_a_minute(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 20000)
    at = minutes_ago(10)
    first = await tap(client, card_id, station_id=network.trunk_station, validator="V1", at=at)
    double = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        validator="V1",
        at=at + timedelta(seconds=59),
    )
    assert double.status_code == 200
    assert double.json()["trip_id"] == first.json()["trip_id"]
    later = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        validator="V1",
        at=at + timedelta(seconds=61),
    )
    assert later.status_code == 201
    assert await balance(client, card_id) == 20000 - 2 * FARE_2026


async def test_insufficient_balance_is_402_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client, 3000)
    response = await tap(client, card_id, station_id=network.trunk_station)
    assert response.status_code == 402
    assert response.json()["error"] == "insufficient_balance"
    assert await count_rows(app, "trips") == 0
    assert await count_rows(app, "ledger_entries") == 1  # the recharge only
    assert await balance(client, card_id) == 3000


async def test_two_credit_trips_then_402(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 0, "personalized")
    one = (await tap(client, card_id, station_id=network.trunk_station, at=minutes_ago(300))).json()
    two = (await tap(client, card_id, station_id=network.trunk_station, at=minutes_ago(100))).json()
    assert (one["fare_kind"], one["credit_used"], one["balance_after"]) == (
        "credit",
        True,
        -FARE_2026,
    )
    assert (two["credit_used"], two["balance_after"]) == (True, -2 * FARE_2026)
    third = await tap(client, card_id, station_id=network.trunk_station)
    assert third.status_code == 402
    assert "credit trips are in use" in third.json()["detail"]
    view = (await client.get(f"/api/v1/cards/{card_id}/balance")).json()
    assert (view["credit_trips_in_use"], view["credit_trips_available"]) == (2, 0)
    await ledger_ok(client)


async def test_free_monthly_trips_and_free_feeders(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 0, "personalized", profile="disability")
    free = (
        await tap(client, card_id, station_id=network.trunk_station, at=minutes_ago(200))
    ).json()
    assert (free["fare_charged"], free["fare_kind"], free["benefit_trip_used"]) == (
        0,
        "free_trip",
        True,
    )
    feeder_card = await funded_card(client, 0)
    feeder = await tap(client, feeder_card, route_code=network.feeder_route)
    assert feeder.status_code == 201
    assert (feeder.json()["fare_charged"], feeder.json()["service_kind"]) == (0, "feeder")


@pytest.mark.usefixtures("wide_offline_window")
async def test_late_tap_is_priced_by_the_policy_of_its_event_time(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    in_2025 = datetime(2025, 6, 3, 7, 30, tzinfo=UTC)
    response = await tap(client, card_id, station_id=network.trunk_station, at=in_2025)
    assert response.status_code == 201
    assert response.json()["fare_charged"] == 3200
    assert (
        (await client.get(f"/api/v1/cards/{card_id}/balance"))
        .json()["last_used_date"]
        .startswith("2025-06-03")
    )
    before_policies = await tap(
        client, card_id, station_id=network.trunk_station, at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert before_policies.status_code == 422
    assert before_policies.json()["detail"].startswith("event_time")


@pytest.mark.parametrize(
    ("change", "status", "starts"),
    [
        ({"card_id": 999999}, 404, "card 999999"),
        ({"station_id": 999}, 404, "station 999"),
        ({"station_id": None, "route_code": "Z99"}, 404, "route Z99"),
        ({"station_id": None}, 422, "station_id"),
        ({"tap_id": "not-a-uuid"}, 422, "tap_id"),
        ({"validator_id": ""}, 422, "validator_id"),
        ({"event_time": "2026-11-24T10:00:00"}, 422, "event_time"),
        ({"event_time": "2999-01-01T00:00:00Z"}, 422, "event_time"),
        ({"card_id": 1.5}, 422, "card_id"),
    ],
)
async def test_bad_taps_write_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    network: Network,
    change: dict[str, object],
    status: int,
    starts: str,
) -> None:
    card_id = await funded_card(client, 10000)
    body: dict[str, object] = {
        "card_id": card_id,
        "station_id": network.trunk_station,
        "validator_id": "V1",
        "tap_id": str(uuid.uuid4()),
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = await client.post("/api/v1/trips/start", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(starts)
    assert await count_rows(app, "trips") == 0
    assert await balance(client, card_id) == 10000


async def test_blocked_card_tap_is_409(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "stolen"})
    response = await tap(client, card_id, station_id=network.trunk_station)
    assert response.status_code == 409
    assert await count_rows(app, "trips") == 0


async def test_50_concurrent_taps_on_a_card_holding_one_fare_charge_once(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, FARE_2026)
    responses = await asyncio.gather(
        *(
            tap(client, card_id, station_id=network.trunk_station, validator=f"V{i}")
            for i in range(50)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [402] * 49
    assert await balance(client, card_id) == 0
    await ledger_ok(client)


async def test_ending_a_trip(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 10000)
    trip_id = (await tap(client, card_id, station_id=network.trunk_station)).json()["trip_id"]
    ended = await client.post(
        "/api/v1/trips/end", json={"trip_id": trip_id, "station_id": network.other_trunk_station}
    )
    assert ended.status_code == 200
    assert ended.json()["disembarking_station_id"] == network.other_trunk_station
    again = await client.post(
        "/api/v1/trips/end", json={"trip_id": trip_id, "station_id": network.other_trunk_station}
    )
    assert again.status_code == 409
    missing = await client.post("/api/v1/trips/end", json={"trip_id": 987654, "station_id": 1})
    assert missing.status_code == 404
    assert await balance(client, card_id) == 10000 - FARE_2026
    trips = (await client.get(f"/api/v1/trips/card/{card_id}")).json()["trips"]
    assert trips[0]["disembarking_station_id"] == network.other_trunk_station
    assert trips[0]["disembarking_time"] is not None


async def test_card_trips_newest_first(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await funded_card(client, 20000)
    await tap(client, card_id, route_code=network.zonal_route, at=minutes_ago(50))
    await tap(client, card_id, station_id=network.trunk_station, at=minutes_ago(20))
    trips = (await client.get(f"/api/v1/trips/card/{card_id}")).json()
    assert [t["route_code"] for t in trips["trips"]] == [None, network.zonal_route]
    assert [t["boarding_station_id"] for t in trips["trips"]] == [network.trunk_station, None]
    assert (await client.get("/api/v1/trips/card/777777")).status_code == 404


async def test_cached_views_are_fresh_after_every_write(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    assert await balance(client, card_id) == 10000  # fills the cache
    assert (await client.get(f"/api/v1/trips/card/{card_id}")).json()["trips"] == []
    await tap(client, card_id, station_id=network.trunk_station)
    assert await balance(client, card_id) == 10000 - FARE_2026
    assert len((await client.get(f"/api/v1/trips/card/{card_id}")).json()["trips"]) == 1
    await recharge(client, card_id, 1000)
    assert await balance(client, card_id) == 11000 - FARE_2026
    history = (await client.get(f"/api/v1/cards/{card_id}/history")).json()["history"]
    assert [h["amount"] for h in history] == [1000, 10000]
