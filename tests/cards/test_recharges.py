"""Recharges: exact credits, idempotency, credit repayment, rejected input writes nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows, ledger_ok
from tests.money import balance, new_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

WRITTEN_TABLES = ("recharges", "ledger_entries", "idempotency_records")


async def assert_nothing_written(app: FastAPI, client: httpx.AsyncClient, card_id: int) -> None:
    for table in WRITTEN_TABLES:
        assert await count_rows(app, table) == 0, table
    assert await balance(client, card_id) == 0


async def test_recharge_credits_the_card_and_is_recorded(client: httpx.AsyncClient) -> None:
    card_id = await new_card(client)
    response = await recharge(client, card_id, 10000)
    assert response.status_code == 201
    body = response.json()
    assert body["card_id"] == card_id
    assert body["amount"] == 10000
    assert body["new_balance"] == 10000
    assert body["credit_repaid"] == 0
    assert body["channel"] == "counter"
    assert (await recharge(client, card_id, 2500)).json()["new_balance"] == 12500
    assert await balance(client, card_id) == 12500

    history = (await client.get(f"/api/v1/cards/{card_id}/history")).json()
    assert [h["amount"] for h in history["history"]] == [2500, 10000]
    second_page = (await client.get(f"/api/v1/cards/{card_id}/history?limit=1&offset=1")).json()
    assert [h["amount"] for h in second_page["history"]] == [10000]
    ledger = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [
        ("recharge", 2500, 12500),
        ("recharge", 10000, 10000),
    ]
    await ledger_ok(client)


async def test_a_retried_recharge_credits_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    card_id = await new_card(client)
    first = await recharge(client, card_id, 7000, key="retry-1")
    again = await recharge(client, card_id, 7000, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await balance(client, card_id) == 7000
    assert await count_rows(app, "recharges") == 1

    other_body = await recharge(client, card_id, 8000, key="retry-1")
    assert other_body.status_code == 409
    assert "Idempotency-Key" in other_body.json()["detail"]
    assert await balance(client, card_id) == 7000


async def test_concurrent_retries_with_one_key_credit_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await new_card(client)
    responses = await asyncio.gather(
        *(recharge(client, card_id, 5000, key="same-key") for _ in range(20))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["recharge_id"] for r in responses}) == 1
    assert await balance(client, card_id) == 5000
    assert await count_rows(app, "recharges") == 1
    await ledger_ok(client)


async def test_100_concurrent_recharges_credit_exactly_their_sum(
    client: httpx.AsyncClient,
) -> None:
    card_id = await new_card(client)
    amounts = [1000 + 37 * i for i in range(100)]
    responses = await asyncio.gather(*(recharge(client, card_id, a) for a in amounts))
    assert [r.status_code for r in responses] == [201] * 100
    assert await balance(client, card_id) == sum(amounts)
    balances_after = sorted(r.json()["new_balance"] for r in responses)
    # Serialized on the card row: every recharge saw the one before it.
    assert balances_after[-1] == sum(amounts)
    assert len(set(balances_after)) == 100
    await ledger_ok(client)


@pytest.mark.parametrize(
    ("raw_amount", "detail_starts"),
    [
        ("0", "amount"),
        ("-5000", "amount"),
        ("10.5", "amount"),
        ("1000.0", "amount"),
        ('"1000"', "amount"),
        ("1e400", "amount"),
        ("99999999999999999999999999", "amount"),
        ("null", "amount"),
        ("true", "amount"),
        ("[1000]", "amount"),
        # RFC 8259 has no such numbers: the body itself is refused.
        ("NaN", "body: not valid JSON at character 29: NaN"),
        ("Infinity", "body: not valid JSON at character 29: Infinity"),
        ("-Infinity", "body: not valid JSON at character 29: -Infinity"),
    ],
)
async def test_bad_amounts_are_422_naming_the_field_and_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, raw_amount: str, detail_starts: str
) -> None:
    card_id = await new_card(client)
    content = f'{{"card_id": {card_id:<5}, "amount": {raw_amount}, "recharge_point_id": 1}}'
    response = await client.post(
        "/api/v1/cards/recharge",
        content=content,
        headers={"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert response.json()["detail"].startswith(detail_starts), response.json()["detail"]
    await assert_nothing_written(app, client, card_id)


@pytest.mark.parametrize("point", [2**31, 2**32, 2**63 - 1])
async def test_a_recharge_point_id_past_an_integer_is_422_naming_it(
    client: httpx.AsyncClient, app: FastAPI, point: int
) -> None:
    # recharge_points.id is INTEGER: the driver would refuse to bind a larger value (a 500).
    card_id = await new_card(client)
    response = await recharge(client, card_id, 10_000, point=point)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("recharge_point_id:"), response.text
    await assert_nothing_written(app, client, card_id)


async def test_missing_amount_and_missing_key(client: httpx.AsyncClient, app: FastAPI) -> None:
    card_id = await new_card(client)
    missing = await client.post(
        "/api/v1/cards/recharge",
        json={"card_id": card_id, "recharge_point_id": 1},
        headers={"Idempotency-Key": "k"},
    )
    assert missing.status_code == 422
    assert missing.json()["detail"].startswith("amount")
    no_key = await client.post(
        "/api/v1/cards/recharge",
        json={"card_id": card_id, "amount": 5000, "recharge_point_id": 1},
    )
    assert no_key.status_code == 422
    assert no_key.json()["detail"].startswith("Idempotency-Key")
    await assert_nothing_written(app, client, card_id)


async def test_policy_limits_and_maximum_balance(client: httpx.AsyncClient, app: FastAPI) -> None:
    card_id = await new_card(client)
    below = await recharge(client, card_id, 49)
    assert below.status_code == 422
    assert below.json()["detail"] == "amount: a pos recharge must be 50 to 418000"
    above = await recharge(client, card_id, 418001)
    assert above.status_code == 422
    await assert_nothing_written(app, client, card_id)
    assert (await recharge(client, card_id, 418000)).status_code == 201
    over_max = await recharge(client, card_id, 50)
    assert over_max.status_code == 422
    assert "above the maximum 418000" in over_max.json()["detail"]
    assert await balance(client, card_id) == 418000


async def test_the_document_states_the_limits_the_service_enforces(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The schema's bounds are the policy in force's (the migrations load the shipped ones),
    and the service refuses just past each of them and accepts each of them."""
    document = (await client.get("/openapi.json")).json()
    amount = document["components"]["schemas"]["RechargeRequest"]["properties"]["amount"]
    policy = (await client.get("/api/v1/fares")).json()["in_force"]
    assert (amount["minimum"], amount["maximum"]) == (
        policy["recharge_min"],
        policy["recharge_max"],
    )
    low, high = int(amount["minimum"]), int(amount["maximum"])
    card_id = await new_card(client)
    for outside in (low - 1, high + 1):
        refused = await recharge(client, card_id, outside)
        assert refused.status_code == 422
        assert refused.json()["detail"] == f"amount: a pos recharge must be {low} to {high}"
    await assert_nothing_written(app, client, card_id)
    assert (await recharge(client, card_id, low)).status_code == 201
    assert (await recharge(client, await new_card(client), high)).status_code == 201


async def test_unknown_card_point_and_web_point_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await new_card(client)
    unknown_card = await recharge(client, 424242, 5000)
    assert unknown_card.status_code == 404
    assert unknown_card.json() == {"error": "not_found", "detail": "card 424242 does not exist"}
    unknown_point = await recharge(client, card_id, 5000, point=99)
    assert unknown_point.status_code == 404
    web = await recharge(client, card_id, 20000, point=network.web_point)
    assert web.status_code == 422
    assert web.json()["detail"].startswith("recharge_point_id")
    await assert_nothing_written(app, client, card_id)


async def test_a_recharge_first_repays_credit_trips(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client, "personalized")
    assert (await recharge(client, card_id, 1000)).status_code == 201
    credit_trip = await tap(client, card_id, station_id=network.trunk_station)
    assert credit_trip.status_code == 201
    assert credit_trip.json()["credit_used"] is True
    assert await balance(client, card_id) == 1000 - 3550

    repaid = await recharge(client, card_id, 5000)
    assert repaid.json()["credit_repaid"] == 2550
    assert repaid.json()["new_balance"] == 2450
    view = (await client.get(f"/api/v1/cards/{card_id}/balance")).json()
    # 2450 does not cover a fare (3550): the credit trip stays counted.
    assert view["credit_trips_in_use"] == 1
    ledger = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger[:2]] == [
        ("recharge", 2450, 2450),
        ("credit_repayment", 2550, 0),
    ]
    restored = await recharge(client, card_id, 2000)
    assert restored.json()["new_balance"] == 4450
    view = (await client.get(f"/api/v1/cards/{card_id}/balance")).json()
    assert view["credit_trips_in_use"] == 0
    await ledger_ok(client)
