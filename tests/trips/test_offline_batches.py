"""Offline batches: taps a validator kept while its link was down. Each applied at most once,
priced per card in event-time order, refused only for a card on the deny list when it was
read, charged whatever the balance (offline risk, reported); the ledger verified after each."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, bearer, client_for, count_rows, ledger_ok
from tests.money import balance, cards_held, funded_card, new_card, tap, wait_for_lock_waiters
from travel_recharge.security.roles import Role

BATCHES = "/api/v1/trips/batches"
FARE = 3_550
VALIDATOR = "V-GATE-OFF-1"


def batch_tap(
    card_id: int, at: datetime, station_id: int, tap_id: str | None = None
) -> dict[str, Any]:
    return {
        "tap_id": tap_id or str(uuid.uuid4()),
        "card_id": card_id,
        "event_time": at.isoformat(),
        "station_id": station_id,
    }


async def send(client: httpx.AsyncClient, taps: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post(BATCHES, json={"validator_id": VALIDATOR, "taps": taps})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_taps_are_priced_per_card_in_event_time_order_and_answered_in_the_order_sent(
    client: httpx.AsyncClient, network: Network
) -> None:
    rider, other = (
        await funded_card(client, 20_000, "personalized"),
        await funded_card(client, 20_000),
    )
    start = datetime.now(UTC) - timedelta(hours=2)
    taps = [
        # Sent last first: the later one is the transfer, whatever the order they came in.
        batch_tap(rider, start + timedelta(minutes=20), network.other_trunk_station),
        batch_tap(other, start, network.trunk_station),
        batch_tap(rider, start, network.trunk_station),
    ]
    answer = await send(client, taps)
    results = answer["taps"]
    assert [r["tap_id"] for r in results] == [t["tap_id"] for t in taps]
    assert [(r["result"], r["fare_kind"], r["fare_charged"]) for r in results] == [
        ("charged", "transfer", 0),
        ("charged", "full", FARE),
        ("charged", "full", FARE),
    ]
    assert (answer["charged"], answer["duplicates"], answer["refused"]) == (3, 0, 0)
    assert await balance(client, rider) == 20_000 - FARE
    assert await balance(client, other) == 20_000 - FARE
    await ledger_ok(client)


async def test_the_same_batch_sent_twice_charges_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000)
    at = datetime.now(UTC) - timedelta(minutes=30)
    taps = [
        batch_tap(card, at, network.trunk_station),
        batch_tap(card, at + timedelta(minutes=5), network.other_trunk_station),
    ]
    taps.append(dict(taps[0]))  # the same tap twice in one batch
    first = await send(client, taps)
    assert [r["result"] for r in first["taps"]] == ["charged", "charged", "duplicate"]
    again = await send(client, taps)
    assert [r["result"] for r in again["taps"]] == ["duplicate"] * 3
    assert [r["trip_id"] for r in again["taps"]] == [r["trip_id"] for r in first["taps"]]
    assert await count_rows(app, "trips") == 2
    assert await balance(client, card) == 20_000 - 2 * FARE
    await ledger_ok(client)


async def test_a_card_blocked_after_the_validators_last_sync_is_refused_from_the_block_on(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000)
    async with client_for(app, bearer(app, Role.validator, validator_id=VALIDATOR)) as validator:
        synced = (await validator.get("/api/v1/cards/deny-list")).json()
    assert card not in synced["added"]
    read_before = datetime.now(UTC) - timedelta(minutes=5)  # past the double-tap window
    blocked = await client.post(f"/api/v1/cards/{card}/block", json={"reason": "stolen"})
    assert blocked.status_code == 200
    read_after = datetime.now(UTC)
    answer = await send(
        client,
        [
            batch_tap(card, read_before, network.trunk_station),
            batch_tap(card, read_after, network.other_trunk_station),
        ],
    )
    before, after = answer["taps"]
    assert (before["result"], before["fare_charged"]) == ("charged", FARE)
    assert (after["result"], after["error"]) == ("refused", "conflict")
    assert after["reason"] == f"card {card} was on the deny list at {read_after.isoformat()}"
    assert await balance(client, card) == 20_000 - FARE
    await ledger_ok(client)


async def test_a_card_that_cannot_cover_a_tap_is_charged_anyway_and_reported(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client)
    at = datetime.now(UTC) - timedelta(minutes=10)
    answer = await send(client, [batch_tap(card, at, network.trunk_station)])
    [result] = answer["taps"]
    assert (result["result"], result["balance_after"], result["offline_risk"]) == (
        "charged",
        -FARE,
        True,
    )
    assert answer["offline_risks"] == 1
    report = (await client.get("/api/v1/trips/offline-risks")).json()
    [risk] = report["offline_risks"]
    assert (risk["trip_id"], risk["card_id"], risk["validator_id"]) == (
        result["trip_id"],
        card,
        VALIDATOR,
    )
    assert (risk["fare_charged"], risk["balance_after"]) == (FARE, -FARE)
    assert await balance(client, card) == -FARE
    # Online, the same card is declined: only an offline validator's tap is charged so.
    assert (await tap(client, card, station_id=network.trunk_station)).status_code == 402
    await ledger_ok(client)


async def test_a_refused_tap_leaves_the_others_of_its_batch_applied(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000)
    at = datetime.now(UTC) - timedelta(minutes=10)
    answer = await send(
        client,
        [
            batch_tap(card, at, network.trunk_station),
            batch_tap(999_999, at, network.trunk_station),
            batch_tap(card, at + timedelta(minutes=1), 999),
            batch_tap(card, at - timedelta(days=4), network.trunk_station),
        ],
    )
    assert [(r["result"], r["error"]) for r in answer["taps"]] == [
        ("charged", None),
        ("refused", "not_found"),
        ("refused", "not_found"),
        ("refused", "validation_error"),
    ]
    assert answer["taps"][1]["reason"] == "card 999999 does not exist"
    assert answer["taps"][3]["reason"].startswith("event_time: is older than the offline window")
    assert await count_rows(app, "trips") == 1
    await ledger_ok(client)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"validator_id": VALIDATOR, "taps": []}, "taps"),
        ({"validator_id": VALIDATOR}, "taps"),
        ({"taps": [{"tap_id": str(uuid.uuid4())}]}, "validator_id"),
        (
            {
                "validator_id": VALIDATOR,
                "taps": [{"tap_id": str(uuid.uuid4()), "card_id": 1, "event_time": 0}],
            },
            "must be an RFC 3339 date-time string",
        ),
    ],
)
async def test_a_malformed_batch_is_refused_whole(
    app: FastAPI, client: httpx.AsyncClient, network: Network, body: dict[str, Any], names: str
) -> None:
    response = await client.post(BATCHES, json=body)
    assert response.status_code == 422
    assert names in response.text
    assert await count_rows(app, "trips") == 0


async def test_a_batch_holds_at_most_500_taps(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 20_000)
    at = datetime.now(UTC) - timedelta(minutes=10)
    taps = [batch_tap(card, at, network.trunk_station) for _ in range(501)]
    response = await client.post(BATCHES, json={"validator_id": VALIDATOR, "taps": taps})
    assert response.status_code == 422, response.text[:200]
    assert "taps" in response.text
    assert await count_rows(app, "trips") == 0


async def test_a_validator_sends_only_its_own_taps(app: FastAPI, network: Network) -> None:
    at = datetime.now(UTC)
    headers = bearer(app, Role.validator, validator_id="V-OTHER")
    async with client_for(app, headers) as other:
        response = await other.post(
            BATCHES,
            json={"validator_id": VALIDATOR, "taps": [batch_tap(1, at, network.trunk_station)]},
        )
    assert response.status_code == 403
    assert await count_rows(app, "trips") == 0


async def test_a_batch_and_online_taps_of_one_card_interleaved_charge_each_tap_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 100_000)
    start = datetime.now(UTC) - timedelta(hours=1)
    taps = [
        batch_tap(card, start + timedelta(minutes=3 * i), network.trunk_station) for i in range(6)
    ]
    async with cards_held(app, card):
        batch = asyncio.create_task(send(client, taps))
        online = [
            asyncio.create_task(tap(client, card, station_id=network.trunk_station))
            for _ in range(4)
        ]
        await wait_for_lock_waiters(app, 5)
    answer = await batch
    online_answers = [(await task).json() for task in online]
    charged = sum(r["fare_charged"] for r in answer["taps"] if r["result"] == "charged")
    charged += sum(a["fare_charged"] for a in online_answers if not a["duplicate"])
    assert answer["charged"] == 6
    assert await count_rows(app, "trips") == 10
    assert await balance(client, card) == 100_000 - charged
    # The batch sent again meanwhile applies nothing more.
    again = await send(client, taps)
    assert again["duplicates"] == 6
    assert await balance(client, card) == 100_000 - charged
    await ledger_ok(client)


async def test_a_gate_that_was_offline_posts_no_web_recharge(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 10_000)
    paid = await client.post(
        "/api/v1/cards/web-recharges",
        json={"card_id": card, "amount": 20_000, "recharge_point_id": network.web_point},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert paid.status_code == 201, paid.text
    answer = await send(client, [batch_tap(card, datetime.now(UTC), network.trunk_station)])
    assert answer["taps"][0]["balance_after"] == 10_000 - FARE
    state = (await client.get(f"/api/v1/cards/{card}/balance")).json()
    assert (state["balance"], state["pending_web_recharges"]) == (10_000 - FARE, 20_000)
    # The next read at an online gate posts it.
    online = await tap(client, card, station_id=network.other_trunk_station)
    assert [p["amount"] for p in online.json()["web_recharges_posted"]] == [20_000]
    await ledger_ok(client)
