"""Web recharges: paid and pending (beside the balance, outside it and the ledger), posted by
the card's next read at a station gate before that tap is priced, expired and refunded when
the card is not read in time; the ledger exact at every step."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.cards.test_refusals import execute
from tests.conftest import Network, ServerUrls, count_rows, ledger_ok, make_settings, start_app
from tests.money import cards_held, funded_card, new_card, tap, wait_for_lock_waiters
from travel_recharge.cards.web_recharges import service

WEB = "/api/v1/cards/web-recharges"
FARE = 3_550


async def pay(
    client: httpx.AsyncClient, card_id: int, amount: int, point: int, key: str | None = None
) -> httpx.Response:
    return await client.post(
        WEB,
        json={"card_id": card_id, "amount": amount, "recharge_point_id": point},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def card_state(client: httpx.AsyncClient, card_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def web_recharges_of(client: httpx.AsyncClient, card_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/cards/{card_id}/web-recharges")
    assert response.status_code == 200, response.text
    return list(response.json()["web_recharges"])


async def ledger_kinds(client: httpx.AsyncClient, card_id: int) -> list[tuple[str, int, int]]:
    entries = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    return [(e["kind"], e["amount"], e["balance_after"]) for e in reversed(entries)]


async def test_a_paid_web_recharge_is_pending_beside_the_balance_and_retries_pay_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client)
    assert (await card_state(client, card))["pending_web_recharges"] == 0  # cached now
    first = await pay(client, card, 20_000, network.web_point, key="web-1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["amount"], body["recharge_id"]) == ("pending", 20_000, None)
    paid_at = datetime.fromisoformat(body["paid_at"])
    assert datetime.fromisoformat(body["expires_at"]) - paid_at == timedelta(days=30)
    again = await pay(client, card, 20_000, network.web_point, key="web-1")
    assert again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    state = await card_state(client, card)
    assert (state["balance"], state["pending_web_recharges"]) == (0, 20_000)
    assert await ledger_kinds(client, card) == []
    assert await count_rows(app, "web_recharges") == 1
    await ledger_ok(client)


async def test_the_next_read_at_a_station_posts_it_before_the_fare(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client)
    paid = (await pay(client, card, 20_000, network.web_point)).json()
    tapped = await tap(client, card, station_id=network.trunk_station, validator="V-GATE-7")
    assert tapped.status_code == 201, tapped.text
    answer = tapped.json()
    [posted] = answer["web_recharges_posted"]
    assert (posted["web_recharge_id"], posted["amount"]) == (paid["web_recharge_id"], 20_000)
    assert (answer["fare_charged"], answer["balance_after"]) == (FARE, 20_000 - FARE)
    assert await ledger_kinds(client, card) == [
        ("recharge", 20_000, 20_000),
        ("fare", -FARE, 20_000 - FARE),
    ]
    [web] = await web_recharges_of(client, card)
    assert (web["status"], web["recharge_id"], web["validator_id"]) == (
        "posted",
        posted["recharge_id"],
        "V-GATE-7",
    )
    [recharge] = (await client.get(f"/api/v1/cards/{card}/history")).json()["history"]
    assert (recharge["recharge_id"], recharge["channel"], recharge["amount"]) == (
        posted["recharge_id"],
        "web",
        20_000,
    )
    state = await card_state(client, card)
    assert (state["balance"], state["pending_web_recharges"]) == (20_000 - FARE, 0)
    # Posted once: the next read posts nothing more.
    second = await tap(client, card, station_id=network.other_trunk_station)
    assert second.json()["web_recharges_posted"] == []
    await ledger_ok(client)


async def test_a_bus_reader_does_not_post_it(client: httpx.AsyncClient, network: Network) -> None:
    card = await new_card(client)
    assert (await pay(client, card, 20_000, network.web_point)).status_code == 201
    on_the_bus = await tap(client, card, route_code=network.zonal_route)
    assert on_the_bus.status_code == 402, on_the_bus.text  # the card itself holds nothing
    state = await card_state(client, card)
    assert (state["balance"], state["pending_web_recharges"]) == (0, 20_000)
    assert (await tap(client, card, station_id=network.trunk_station)).status_code == 201
    await ledger_ok(client)


async def test_posting_repays_credit_first_as_any_recharge_does(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client, "personalized")
    on_credit = await tap(client, card, station_id=network.trunk_station)
    assert on_credit.json()["fare_kind"] == "credit"
    assert (await pay(client, card, 10_000, network.web_point)).status_code == 201
    # The same station again (another gate): a full fare, not a transfer.
    tapped = await tap(client, card, station_id=network.trunk_station)
    assert tapped.status_code == 201, tapped.text
    assert tapped.json()["balance_after"] == 10_000 - 2 * FARE
    assert await ledger_kinds(client, card) == [
        ("fare", -FARE, -FARE),
        ("credit_repayment", FARE, 0),
        ("recharge", 10_000 - FARE, 10_000 - FARE),
        ("fare", -FARE, 10_000 - 2 * FARE),
    ]
    state = await card_state(client, card)
    assert state["credit_trips_in_use"] == 0
    await ledger_ok(client)


@pytest.mark.parametrize(
    ("amount", "point", "detail"),
    [
        (9_999, "web", "amount: a web recharge must be 10000 to 200000 (with 0 pending)"),
        (200_001, "web", "amount: a web recharge must be 10000 to 200000 (with 0 pending)"),
        (
            20_000,
            "counter",
            "recharge_point_id: recharge point 1 sells at the counter; "
            "recharge there through POST /api/v1/cards/recharge",
        ),
        (20_000, "none", "recharge point 99 does not exist"),
    ],
)
async def test_a_refused_payment_names_its_field_and_writes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    network: Network,
    amount: int,
    point: str,
    detail: str,
) -> None:
    card = await new_card(client)
    points = {"web": network.web_point, "counter": network.counter, "none": 99}
    response = await pay(client, card, amount, points[point])
    assert response.status_code in (404, 422), response.text
    assert response.json()["detail"] == detail
    assert await count_rows(app, "web_recharges") == 0


async def test_pending_amounts_count_against_the_maximum_balance(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 300_000)
    assert (await pay(client, card, 100_000, network.web_point)).status_code == 201
    refused = await pay(client, card, 20_000, network.web_point)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "amount: the balance would be 420000, above the maximum 418000 (with 100000 pending)"
    )
    assert await count_rows(app, "web_recharges") == 1


async def test_a_blocked_card_pays_nothing(client: httpx.AsyncClient, network: Network) -> None:
    card = await new_card(client)
    blocked = await client.post(f"/api/v1/cards/{card}/block", json={"reason": "lost"})
    assert blocked.status_code == 200
    refused = await pay(client, card, 20_000, network.web_point)
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"card {card} is blocked; only active cards can be used"


async def test_one_not_read_in_time_expires_is_refunded_and_is_never_posted(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await funded_card(client, 10_000)
    due = (await pay(client, card, 20_000, network.web_point)).json()
    kept = (await pay(client, card, 30_000, network.web_point)).json()
    assert (await card_state(client, card))["pending_web_recharges"] == 50_000
    # Past its expiry, not swept yet: a read at a station leaves it alone.
    await execute(
        app,
        "UPDATE web_recharges SET expires_at = now() - interval '1 second' WHERE id = $1",
        due["web_recharge_id"],
    )
    tapped = await tap(client, card, station_id=network.trunk_station)
    assert [p["amount"] for p in tapped.json()["web_recharges_posted"]] == [30_000]
    assert (await card_state(client, card))["pending_web_recharges"] == 0
    # Two sweeps at once (two workers) expire it once.
    now = datetime.now(UTC)
    swept = await asyncio.gather(
        service.expire_due(app.state.database, app.state.cache, now),
        service.expire_due(app.state.database, app.state.cache, now),
    )
    assert sorted(swept) == [0, 1]
    states = {w["web_recharge_id"]: w for w in await web_recharges_of(client, card)}
    assert states[due["web_recharge_id"]]["status"] == "expired"
    assert states[due["web_recharge_id"]]["expired_at"] is not None
    assert states[kept["web_recharge_id"]]["status"] == "posted"
    assert (await card_state(client, card))["balance"] == 10_000 + 30_000 - FARE
    await ledger_ok(client)


async def test_the_sweep_expires_only_those_due(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client)
    assert (await pay(client, card, 20_000, network.web_point)).status_code == 201
    now = datetime.now(UTC)
    assert await service.expire_due(app.state.database, app.state.cache, now) == 0
    later = now + timedelta(days=30, seconds=1)
    assert await service.expire_due(app.state.database, app.state.cache, later) == 1
    [web] = await web_recharges_of(client, card)
    assert web["status"] == "expired"


async def test_racing_station_reads_post_each_web_recharge_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client, "personalized")
    for amount in (20_000, 30_000):
        assert (await pay(client, card, amount, network.web_point)).status_code == 201
    async with cards_held(app, card):
        racing = [
            asyncio.create_task(tap(client, card, station_id=network.trunk_station))
            for _ in range(8)
        ]
        await wait_for_lock_waiters(app, 8)
    answers = [(await task).json() for task in racing]
    posted = [p["amount"] for answer in answers for p in answer["web_recharges_posted"]]
    assert sorted(posted) == [20_000, 30_000]
    charged = sum(answer["fare_charged"] for answer in answers if not answer["duplicate"])
    state = await card_state(client, card)
    assert state["balance"] == 50_000 - charged
    assert state["pending_web_recharges"] == 0
    assert await count_rows(app, "recharges") == 2
    await ledger_ok(client)


async def test_a_worker_sweeps_on_its_own(
    app: FastAPI, client: httpx.AsyncClient, network: Network, test_servers: ServerUrls
) -> None:
    card = await new_card(client)
    due = (await pay(client, card, 20_000, network.web_point)).json()
    await execute(
        app,
        "UPDATE web_recharges SET expires_at = now() - interval '1 second' WHERE id = $1",
        due["web_recharge_id"],
    )
    settings = make_settings(test_servers, web_recharge_sweep_s=0.05)
    async for _worker, _ in start_app(settings):
        for _ in range(200):
            [web] = await web_recharges_of(client, card)
            if web["status"] == "expired":
                break
            await asyncio.sleep(0.05)
        assert web["status"] == "expired"
    assert (await card_state(client, card))["pending_web_recharges"] == 0
