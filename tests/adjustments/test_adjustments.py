"""Adjustments under maker-checker control: a proposal moves nothing, a different operator's
approval posts once to the balance and the ledger, and the limits hold on what is true when
it posts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, bearer, client_for, count_rows, ledger_ok
from tests.money import balance, cards_held, funded_card, tap, wait_for_lock_waiters
from tests.security.test_tokens import create_account
from tests.simulator.conftest import make_simulated
from travel_recharge.adjustments import repository
from travel_recharge.security.roles import Role

ADJUSTMENTS = "/api/v1/adjustments"
FARE = 3_550  # the trunk fare of the policy in force


@dataclass
class Operators:
    maker: httpx.AsyncClient
    checker: httpx.AsyncClient
    second_checker: httpx.AsyncClient
    maker_id: int
    checker_id: int


@pytest.fixture
async def operators(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> AsyncIterator[Operators]:
    ids = []
    for login in ("op.maker", "op.checker", "op.checker2"):
        ids.append(int((await create_account(client, login, "operator"))["account_id"]))
    clients = [client_for(app, bearer(app, Role.operator, account_id=i)) for i in ids]
    async with clients[0] as maker, clients[1] as checker, clients[2] as second:
        yield Operators(maker, checker, second, ids[0], ids[1])


async def charged_trip(client: httpx.AsyncClient, network: Network, card_id: int) -> int:
    response = await tap(client, card_id, station_id=network.trunk_station)
    assert response.status_code == 201, response.text
    assert response.json()["fare_charged"] == FARE
    return int(response.json()["trip_id"])


async def propose(caller: httpx.AsyncClient, key: str | None = None, **body: Any) -> httpx.Response:
    return await caller.post(
        ADJUSTMENTS, json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
    )


async def proposed(caller: httpx.AsyncClient, **body: Any) -> int:
    response = await propose(caller, **body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "proposed"
    return int(response.json()["adjustment_id"])


async def approve(caller: httpx.AsyncClient, adjustment_id: int) -> httpx.Response:
    return await caller.post(f"{ADJUSTMENTS}/{adjustment_id}/approve", json={})


async def adjustment_entries(client: httpx.AsyncClient, card_id: int) -> list[dict[str, Any]]:
    entries = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    return [entry for entry in entries if entry["kind"] == "adjustment"]


async def test_a_proposal_moves_nothing_and_another_operators_approval_posts_it_once(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 10_000, "personalized")
    trip = await charged_trip(client, network, card)
    assert await balance(client, card) == 10_000 - FARE  # read once: the view is cached now
    adjustment = await proposed(
        operators.maker,
        card_id=card,
        kind="refund",
        amount=FARE,
        reason="validator fault",
        trip_id=trip,
    )
    assert await balance(client, card) == 10_000 - FARE
    assert await adjustment_entries(client, card) == []

    approved = await approve(operators.checker, adjustment)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["proposed_by"] == operators.maker_id
    assert body["decided_by"] == operators.checker_id
    assert body["balance_after"] == 10_000
    assert body["decided_at"] >= body["proposed_at"]
    # The cached balance view was invalidated after the commit.
    assert await balance(client, card) == 10_000
    [entry] = await adjustment_entries(client, card)
    assert (entry["amount"], entry["balance_after"], entry["trip_id"]) == (FARE, 10_000, trip)
    assert entry["entry_id"] == body["ledger_entry_id"]
    assert entry["note"] == f"adjustment {adjustment} (refund)"

    again = await approve(operators.second_checker, adjustment)
    assert again.status_code == 409
    assert again.json()["detail"] == f"adjustment {adjustment} is already approved"
    assert await balance(client, card) == 10_000
    assert len(await adjustment_entries(client, card)) == 1
    await ledger_ok(client)


async def test_the_operator_who_proposed_may_not_decide(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 10_000)
    trip = await charged_trip(client, network, card)
    adjustment = await proposed(
        operators.maker,
        card_id=card,
        kind="refund",
        amount=1_000,
        reason="short ride",
        trip_id=trip,
    )
    for decision in ("approve", "reject"):
        response = await operators.maker.post(
            f"{ADJUSTMENTS}/{adjustment}/{decision}", json={"note": "my own"}
        )
        assert response.status_code == 403, response.text
        assert "another operator must approve or reject it" in response.json()["detail"]
    listed = (await client.get(ADJUSTMENTS, params={"status": "proposed"})).json()
    assert [a["adjustment_id"] for a in listed["adjustments"]] == [adjustment]
    assert await balance(client, card) == 10_000 - FARE


async def test_a_rejection_says_why_moves_nothing_and_is_final(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 20_000)
    recharge_id = (await client.get(f"/api/v1/cards/{card}/history")).json()["history"][0][
        "recharge_id"
    ]
    adjustment = await proposed(
        operators.maker,
        card_id=card,
        kind="correction",
        amount=-20_000,
        reason="recharge keyed twice",
        recharge_id=recharge_id,
    )
    no_reason = await operators.checker.post(f"{ADJUSTMENTS}/{adjustment}/reject", json={})
    assert no_reason.status_code == 422
    assert "note" in no_reason.text
    rejected = await operators.checker.post(
        f"{ADJUSTMENTS}/{adjustment}/reject", json={"note": "the sale is real"}
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["decision_note"], body["ledger_entry_id"]) == (
        "rejected",
        "the sale is real",
        None,
    )
    late = await approve(operators.second_checker, adjustment)
    assert late.status_code == 409
    assert late.json()["detail"] == f"adjustment {adjustment} is already rejected"
    assert await balance(client, card) == 20_000
    assert (await client.get(f"{ADJUSTMENTS}/{adjustment}")).json() == body


async def test_refunds_never_pass_what_the_trip_charged(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 10_000)
    trip = await charged_trip(client, network, card)
    first = await proposed(
        operators.maker, card_id=card, kind="refund", amount=3_000, reason="partial", trip_id=trip
    )
    second = await proposed(
        operators.maker, card_id=card, kind="refund", amount=3_000, reason="twice", trip_id=trip
    )
    assert (await approve(operators.checker, first)).status_code == 200
    # Proposed before the first was approved; its approval checks what is true now.
    refused = await approve(operators.checker, second)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"amount: trip {trip} moved {FARE} pesos and 3000 are already refunded; "
        "a refund of 3000 would pass it"
    )
    now_too_much = await propose(
        operators.maker, card_id=card, kind="refund", amount=551, reason="rest", trip_id=trip
    )
    assert now_too_much.status_code == 409
    assert (
        await proposed(
            operators.maker, card_id=card, kind="refund", amount=550, reason="rest", trip_id=trip
        )
    ) > second
    assert await balance(client, card) == 10_000 - FARE + 3_000
    await ledger_ok(client)


async def test_a_debit_correction_never_takes_the_balance_below_zero(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 5_000)
    trip = await charged_trip(client, network, card)
    adjustment = await proposed(
        operators.maker,
        card_id=card,
        kind="correction",
        amount=-1_451,
        reason="fare undercharged",
        trip_id=trip,
    )
    refused = await approve(operators.checker, adjustment)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"amount: card {card} holds 1450 pesos; a correction of -1451 would leave it below zero"
    )
    assert (await client.get(f"{ADJUSTMENTS}/{adjustment}")).json()["status"] == "proposed"
    assert await balance(client, card) == 1_450


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        ({"amount": 0}, 422, "amount"),
        ({"kind": "refund", "amount": -100}, 422, "amount: a refund credits the card"),
        ({"amount": 200_001}, 422, "amount: an adjustment is at most 200000 pesos"),
        ({"recharge_id": 1}, 422, "trip_id, recharge_id: name exactly one"),
        ({"trip_id": None}, 422, "trip_id, recharge_id: name exactly one"),
        ({"reason": "x"}, 422, "reason"),
        ({"surprise": 1}, 422, "surprise"),
        ({"card_id": 999_999}, 404, "card 999999 does not exist"),
        ({"trip_id": 999_999}, 422, "trip_id: trip 999999 is not a trip of card"),
    ],
)
async def test_a_bad_proposal_names_its_field_and_writes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    network: Network,
    operators: Operators,
    change: dict[str, Any],
    status: int,
    names: str,
) -> None:
    card = await funded_card(client, 10_000)
    trip = await charged_trip(client, network, card)
    body = {"card_id": card, "kind": "correction", "amount": 100, "reason": "why", "trip_id": trip}
    response = await propose(operators.maker, **(body | change))
    assert response.status_code == status, response.text
    assert names in response.text
    assert await count_rows(app, "adjustments") == 0


async def test_another_cards_trip_is_not_a_reference(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card, other = await funded_card(client, 10_000), await funded_card(client, 10_000)
    trip = await charged_trip(client, network, other)
    response = await propose(
        operators.maker, card_id=card, kind="refund", amount=100, reason="wrong", trip_id=trip
    )
    assert response.status_code == 422
    assert response.json()["detail"] == f"trip_id: trip {trip} is not a trip of card {card}"


async def test_a_retried_proposal_returns_the_first_and_records_one(
    app: FastAPI, client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 10_000)
    trip = await charged_trip(client, network, card)
    body = {"card_id": card, "kind": "refund", "amount": 500, "reason": "retry", "trip_id": trip}
    first = await propose(operators.maker, "proposal-1", **body)
    again = await propose(operators.maker, "proposal-1", **body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other_body = await propose(operators.maker, "proposal-1", **(body | {"amount": 600}))
    assert other_body.status_code == 409
    assert await count_rows(app, "adjustments") == 1


async def test_a_replaced_card_is_not_adjusted(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 10_000, "personalized")
    trip = await charged_trip(client, network, card)
    replaced = await client.post(
        f"/api/v1/cards/{card}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert replaced.status_code == 201, replaced.text
    response = await propose(
        operators.maker, card_id=card, kind="refund", amount=100, reason="late", trip_id=trip
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"card {card} is replaced; only an active or blocked card's balance is adjusted"
    )


async def test_a_refund_to_a_card_on_credit_gives_its_credit_back_once_it_covers_a_fare(
    client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    card = await funded_card(client, 0, "personalized")
    trip = await charged_trip(client, network, card)  # on credit: the balance is -3,550
    state = (await client.get(f"/api/v1/cards/{card}/balance")).json()
    assert (state["balance"], state["credit_trips_in_use"]) == (-FARE, 1)
    correction = await proposed(
        operators.maker,
        card_id=card,
        kind="correction",
        amount=2 * FARE,
        reason="goodwill",
        trip_id=trip,
    )
    assert (await approve(operators.checker, correction)).status_code == 200
    state = (await client.get(f"/api/v1/cards/{card}/balance")).json()
    assert (state["balance"], state["credit_trips_in_use"]) == (FARE, 0)
    await ledger_ok(client)


# Less than half the fare: two of them pass the refund cap, so only the adjustment's own lock
# stops a second posting.
REFUND = 1_000


async def _race_two_approvals(
    app: FastAPI, client: httpx.AsyncClient, network: Network, operators: Operators
) -> tuple[list[int], int, int]:
    """Two operators approve one adjustment at once, both queued behind the card's lock;
    the statuses, the adjustment entries posted, and the card's balance."""
    card = await funded_card(client, 10_000)
    trip = await charged_trip(client, network, card)
    adjustment = await proposed(
        operators.maker, card_id=card, kind="refund", amount=REFUND, reason="race", trip_id=trip
    )
    async with cards_held(app, card):
        racing = [
            asyncio.create_task(approve(operators.checker, adjustment)),
            asyncio.create_task(approve(operators.second_checker, adjustment)),
        ]
        # The first holds the adjustment and waits on the card; the second waits on one of
        # them (with the lock) or both (without it).
        await wait_for_lock_waiters(app, 2)
    answers = await asyncio.gather(*racing)
    statuses = sorted(answer.status_code for answer in answers)
    return statuses, len(await adjustment_entries(client, card)), await balance(client, card)


async def test_two_approvals_racing_post_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    statuses, entries, money = await _race_two_approvals(app, client, network, operators)
    assert statuses == [200, 409]
    assert entries == 1
    assert money == 10_000 - FARE + REFUND
    await ledger_ok(client)


@pytest.mark.ledger_tampered  # the fault double-credits on purpose (the ledger itself verifies)
async def test_without_the_adjustment_lock_the_race_posts_twice(
    app: FastAPI,
    client: httpx.AsyncClient,
    network: Network,
    operators: Operators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checker of the test above catches the fault it guards against."""

    async def read_without_lock(session: Any, adjustment_id: int) -> Any:
        return await repository.by_id(session, adjustment_id)

    monkeypatch.setattr(repository, "lock", read_without_lock)
    statuses, entries, money = await _race_two_approvals(app, client, network, operators)
    assert statuses == [200, 200]
    assert entries == 2
    assert money == 10_000 - FARE + 2 * REFUND


async def test_the_simulators_clean_up_takes_the_adjustments_of_its_cards_with_them(
    app: FastAPI, client: httpx.AsyncClient, network: Network, operators: Operators
) -> None:
    simulated = await make_simulated(app, riders=1)
    real = await funded_card(client, 10_000)
    for card in (simulated.cards[0], real):
        recharged = (await client.get(f"/api/v1/cards/{card}/history")).json()["history"][0]
        adjustment = await proposed(
            operators.maker,
            card_id=card,
            kind="correction",
            amount=100,
            reason="rounding",
            recharge_id=recharged["recharge_id"],
        )
        assert (await approve(operators.checker, adjustment)).status_code == 200
    removed = await client.delete("/api/v1/simulator/data")
    assert removed.status_code == 200, removed.text
    [left] = (await client.get(ADJUSTMENTS)).json()["adjustments"]
    assert left["card_id"] == real
    await ledger_ok(client)
