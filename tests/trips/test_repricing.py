"""A late tap changes what later taps of its card should have cost: the later trips keep what
they were charged, each change is recorded, one adjustment entry settles the difference and
names the late tap, and the taps after are priced against the repriced kinds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Network, ledger_ok
from tests.money import balance, funded_card, tap
from tests.trips.test_offline_batches import BATCHES, VALIDATOR

FARE = 3_550


def minutes_ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def online(
    client: httpx.AsyncClient, card: int, at: datetime, **where: Any
) -> dict[str, Any]:
    response = await tap(client, card, at=at, **where)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def late(client: httpx.AsyncClient, card: int, at: datetime, **where: Any) -> dict[str, Any]:
    body = {"tap_id": str(uuid.uuid4()), "card_id": card, "event_time": at.isoformat(), **where}
    response = await client.post(BATCHES, json={"validator_id": VALIDATOR, "taps": [body]})
    assert response.status_code == 200, response.text
    [result] = response.json()["taps"]
    assert result["result"] == "charged", result
    return dict(result)


async def entries(client: httpx.AsyncClient, card: int) -> list[dict[str, Any]]:
    return list(reversed((await client.get(f"/api/v1/cards/{card}/ledger")).json()["entries"]))


async def test_a_late_full_fare_turns_a_later_full_fare_into_a_transfer_and_refunds_it(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000, "personalized")
    first = await online(client, card, minutes_ago(60), station_id=network.trunk_station)
    second = await online(client, card, minutes_ago(50), route_code=network.zonal_route)
    assert (first["fare_kind"], second["fare_kind"]) == ("full", "transfer")

    # Read 10 minutes before the first, by a validator that was offline: it opens the window.
    result = await late(client, card, minutes_ago(70), route_code=network.other_zonal_route)
    assert (result["fare_kind"], result["fare_charged"]) == ("full", FARE)
    assert result["repriced"] == [
        {"trip_id": first["trip_id"], "fare_was": FARE, "fare_now": 0, "fare_kind_now": "transfer"}
    ]
    assert result["adjustment"] == FARE
    adjustment = (await entries(client, card))[-1]
    assert (adjustment["kind"], adjustment["amount"], adjustment["trip_id"]) == (
        "adjustment",
        FARE,
        result["trip_id"],
    )
    assert adjustment["entry_id"] == result["adjustment_entry_id"]
    assert adjustment["note"] == (
        f"late tap {result['trip_id']} repriced trips {first['trip_id']} ({FARE} -> 0)"
    )
    assert adjustment["balance_after"] == 20_000 - FARE

    # The first trip keeps what it was charged; the next tap is priced against what it is now:
    # the window opened 70 minutes ago already holds both transfers, so this is a full fare.
    trips = (await client.get(f"/api/v1/trips/card/{card}")).json()["trips"]
    assert {t["trip_id"]: t["fare_charged"] for t in trips}[first["trip_id"]] == FARE
    third = await online(client, card, minutes_ago(0), station_id=network.other_trunk_station)
    assert (third["fare_kind"], third["fare_charged"]) == ("full", FARE)
    assert await balance(client, card) == 20_000 - 2 * FARE
    await ledger_ok(client)


async def test_a_late_transfer_takes_a_later_tap_past_the_transfers_allowed_and_charges_it(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000, "personalized")
    await online(client, card, minutes_ago(60), station_id=network.trunk_station)
    await online(client, card, minutes_ago(50), route_code=network.zonal_route)
    last = await online(client, card, minutes_ago(40), route_code=network.other_zonal_route)
    assert (last["fare_kind"], last["fare_charged"]) == ("transfer", 0)

    result = await late(client, card, minutes_ago(55), station_id=network.other_trunk_station)
    assert (result["fare_kind"], result["fare_charged"]) == ("transfer", 0)
    assert [(r["trip_id"], r["fare_now"], r["fare_kind_now"]) for r in result["repriced"]] == [
        (last["trip_id"], FARE, "full")
    ]
    assert result["adjustment"] == -FARE
    assert await balance(client, card) == 20_000 - 2 * FARE
    await ledger_ok(client)


async def test_a_late_tap_that_changes_nothing_settles_nothing(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000)  # basic: no transfers to change
    await online(client, card, minutes_ago(30), station_id=network.trunk_station)
    result = await late(client, card, minutes_ago(40), station_id=network.other_trunk_station)
    assert (result["repriced"], result["adjustment"], result["adjustment_entry_id"]) == (
        [],
        0,
        None,
    )
    assert [e["kind"] for e in await entries(client, card)] == ["recharge", "fare", "fare"]
    await ledger_ok(client)


async def test_a_late_batch_sent_again_reprices_nothing_more(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000, "personalized")
    await online(client, card, minutes_ago(60), station_id=network.trunk_station)
    body = {
        "tap_id": str(uuid.uuid4()),
        "card_id": card,
        "event_time": minutes_ago(70).isoformat(),
        "route_code": network.zonal_route,
    }
    batch = {"validator_id": VALIDATOR, "taps": [body]}
    first = (await client.post(BATCHES, json=batch)).json()["taps"][0]
    again = (await client.post(BATCHES, json=batch)).json()["taps"][0]
    assert (first["adjustment"], again["result"], again["adjustment"]) == (FARE, "duplicate", 0)
    assert [e["kind"] for e in await entries(client, card)].count("adjustment") == 1
    assert await balance(client, card) == 20_000 - FARE
    await ledger_ok(client)
