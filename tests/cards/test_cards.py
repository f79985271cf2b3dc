"""Issuing cards, balances, blocking and replacement."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows, ledger_ok
from tests.money import balance, new_card, new_user, recharge
from travel_recharge.cards.numbers import card_number_for, is_valid_card_number, luhn_check_digit

pytestmark = pytest.mark.usefixtures("network")


def test_card_numbers_are_16_digits_with_a_luhn_check_digit() -> None:
    # The textbook Luhn example: 7992739871 takes check digit 3.
    assert luhn_check_digit("7992739871") == "3"
    assert card_number_for(1) == "9100000000000018"
    assert is_valid_card_number(card_number_for(123456))
    assert not is_valid_card_number("9100000000000014")
    with pytest.raises(ValueError, match="does not fit"):
        card_number_for(10**12)


async def test_issue_basic_card(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/cards", json={"card_type": "basic"})
    assert response.status_code == 201
    card = response.json()
    assert card["card_type"] == "basic"
    assert card["status"] == "active"
    assert card["balance"] == 0
    assert card["user_id"] is None
    assert card["card_number"] == card_number_for(card["card_id"])


async def test_issue_personalized_card_with_profile(client: httpx.AsyncClient) -> None:
    user_id = await new_user(client)
    response = await client.post(
        "/api/v1/cards",
        json={"card_type": "personalized", "user_id": user_id, "profile": "elderly"},
    )
    assert response.status_code == 201
    assert response.json()["user_id"] == user_id
    assert response.json()["profile"] == "elderly"
    second = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": user_id}
    )
    assert second.status_code == 409
    assert second.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"card_type": "basic", "user_id": 1}, "user_id"),
        ({"card_type": "personalized"}, "user_id"),
        ({"card_type": "basic", "profile": "elderly"}, "profile"),
        ({"card_type": "gold"}, "card_type"),
        ({"card_type": "basic", "balance": 5000}, "balance"),
        ({"card_type": "personalized", "user_id": "1"}, "user_id"),
        ({"card_type": "personalized", "user_id": 2**63}, "user_id"),
    ],
)
async def test_bad_card_requests_are_422_and_write_nothing(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/v1/cards", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(field)
    assert await count_rows(app, "cards") == 0


async def test_unknown_profile_and_unknown_user(client: httpx.AsyncClient) -> None:
    user_id = await new_user(client)
    unknown_profile = await client.post(
        "/api/v1/cards",
        json={"card_type": "personalized", "user_id": user_id, "profile": "astronaut"},
    )
    assert unknown_profile.status_code == 422
    assert "profile: unknown profile 'astronaut'" in unknown_profile.json()["detail"]
    unknown_user = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": 999999}
    )
    assert unknown_user.status_code == 404


async def test_balance_view(client: httpx.AsyncClient) -> None:
    card_id = await new_card(client, "personalized")
    response = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert response.status_code == 200
    assert response.json() == {
        "card_id": card_id,
        "balance": 0,
        "last_used_date": None,
        "status": "active",
        "card_type": "personalized",
        "profile": None,
        "credit_trips_in_use": 0,
        "credit_trips_available": 2,
        "pending_web_recharges": 0,
    }
    assert (await client.get("/api/v1/cards/987654/balance")).status_code == 404
    assert (await client.get(f"/api/v1/cards/{2**63}/balance")).status_code == 422
    assert (await client.get("/api/v1/cards/abc/balance")).status_code == 422


async def test_block_and_unblock(client: httpx.AsyncClient, network: Network) -> None:
    card_id = await new_card(client)
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200
    assert blocked.json()["status"] == "blocked"
    assert (await client.get(f"/api/v1/cards/{card_id}/balance")).json()["status"] == "blocked"
    assert (
        await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "x"})
    ).status_code == 409
    refused = await recharge(client, card_id, 5000)
    assert refused.status_code == 409
    unblocked = await client.post(f"/api/v1/cards/{card_id}/unblock")
    assert unblocked.json()["status"] == "active"
    assert (await client.post(f"/api/v1/cards/{card_id}/unblock")).status_code == 409
    assert (await client.post(f"/api/v1/cards/{card_id}/block", json={})).status_code == 422


async def test_replace_moves_the_balance_through_the_ledger(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await new_card(client, "personalized", profile="disability")
    assert (await recharge(client, card_id, 20000)).status_code == 201
    key = uuid.uuid4().hex
    response = await client.post(
        f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201
    body = response.json()
    new_id = body["new_card"]["card_id"]
    assert body["balance_moved"] == 20000
    assert body["new_card"]["profile"] == "disability"
    assert await balance(client, new_id) == 20000
    old = (await client.get(f"/api/v1/cards/{card_id}/balance")).json()
    assert (old["balance"], old["status"]) == (0, "replaced")

    replay = await client.post(f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == body
    assert await count_rows(app, "cards") == 2

    old_ledger = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in old_ledger] == [
        ("balance_transfer", -20000, 0),
        ("recharge", 20000, 20000),
    ]
    new_ledger = (await client.get(f"/api/v1/cards/{new_id}/ledger")).json()["entries"]
    assert [(e["kind"], e["amount"], e["counterpart_card_id"]) for e in new_ledger] == [
        ("balance_transfer", 20000, card_id)
    ]
    again = await client.post(
        f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert again.status_code == 409
    await ledger_ok(client)


async def test_basic_cards_cannot_be_replaced(client: httpx.AsyncClient) -> None:
    card_id = await new_card(client)
    response = await client.post(
        f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 409
    assert "not recoverable" in response.json()["detail"]
    missing_key = await client.post(f"/api/v1/cards/{card_id}/replace")
    assert missing_key.status_code == 422
    assert missing_key.json()["detail"].startswith("Idempotency-Key")
