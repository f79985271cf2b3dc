"""Every refusal of the cards feature answers its exact reason (what a client shows the
rider or the clerk) and writes nothing; a block keeps its reason until the unblock."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows
from tests.money import new_card, new_user, recharge

pytestmark = pytest.mark.usefixtures("network")


async def rows(app: FastAPI, query: str, *args: object) -> list[tuple[Any, ...]]:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(query, args)
        return [tuple(row) for row in result.all()]


async def execute(app: FastAPI, statement: str, *args: object) -> None:
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(statement, args)


def refused(response: httpx.Response, status: int, error: str, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": error, "detail": detail}


async def test_issuing_refusals_name_the_field_and_the_rule(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user_id = await new_user(client)
    cards = "/api/v1/cards"
    refused(
        await client.post(cards, json={"card_type": "basic", "user_id": user_id}),
        422,
        "validation_error",
        "user_id: basic cards are anonymous; omit user_id",
    )
    refused(
        await client.post(cards, json={"card_type": "basic", "profile": "elderly"}),
        422,
        "validation_error",
        "profile: rider profiles need a personalized card",
    )
    refused(
        await client.post(cards, json={"card_type": "personalized"}),
        422,
        "validation_error",
        "user_id: a personalized card needs its owner's user_id",
    )
    # The profiles of the 2026 policy, in order.
    refused(
        await client.post(
            cards, json={"card_type": "personalized", "user_id": user_id, "profile": "pilot"}
        ),
        422,
        "validation_error",
        "profile: unknown profile 'pilot'; known: child_under_2, disability, elderly,"
        " student_jovenes_e",
    )
    assert await count_rows(app, "cards") == 0
    await new_card_of(client, user_id)
    refused(
        await client.post(cards, json={"card_type": "personalized", "user_id": user_id}),
        409,
        "conflict",
        f"user {user_id} already has a personalized card in use",
    )
    assert await count_rows(app, "cards") == 1


async def new_card_of(client: httpx.AsyncClient, user_id: int) -> int:
    response = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": user_id}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["card_id"])


async def test_recharge_refusals_name_the_point_and_the_card(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await new_card(client)
    refused(
        await recharge(client, card_id, 5000, point=99),
        404,
        "not_found",
        "recharge point 99 does not exist",
    )
    refused(
        await recharge(client, card_id, 20000, point=network.web_point),
        422,
        "validation_error",
        f"recharge_point_id: recharge point {network.web_point} sells on the web; web recharges"
        " are two-phase, through POST /api/v1/cards/web-recharges",
    )
    # The traffic simulator's money never meets real money, either way round.
    await execute(app, "UPDATE cards SET simulated = true WHERE id = $1", card_id)
    refused(
        await recharge(client, card_id, 5000, point=network.counter),
        422,
        "validation_error",
        f"recharge_point_id: recharge point {network.counter} is a real point of sale;"
        f" card {card_id} is a simulated card",
    )
    await execute(app, "UPDATE cards SET simulated = false WHERE id = $1", card_id)
    await execute(app, "UPDATE recharge_points SET simulated = true WHERE id = $1", network.counter)
    refused(
        await recharge(client, card_id, 5000, point=network.counter),
        422,
        "validation_error",
        f"recharge_point_id: recharge point {network.counter} belongs to the traffic"
        " simulator; only its simulated cards are recharged there",
    )
    for table in ("recharges", "ledger_entries", "idempotency_records"):
        assert await count_rows(app, table) == 0, table


async def test_a_block_keeps_its_reason_until_the_unblock_and_refusals_name_the_status(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await new_card(client, "basic")
    block = f"/api/v1/cards/{card_id}/block"
    unblock = f"/api/v1/cards/{card_id}/unblock"
    refused(
        await client.post(unblock),
        409,
        "conflict",
        f"card {card_id} is active; only a blocked card can be unblocked",
    )
    assert (await client.post(block, json={"reason": "stolen at Calle 72"})).status_code == 200
    reason = "SELECT status, status_reason FROM cards WHERE id = $1"
    assert await rows(app, reason, card_id) == [("blocked", "stolen at Calle 72")]
    refused(
        await client.post(block, json={"reason": "again"}),
        409,
        "conflict",
        f"card {card_id} is blocked; only an active card can be blocked",
    )
    refused(
        await recharge(client, card_id, 5000),
        409,
        "conflict",
        f"card {card_id} is blocked; only active cards can be used",
    )
    assert await rows(app, reason, card_id) == [("blocked", "stolen at Calle 72")]
    assert (await client.post(unblock)).status_code == 200
    assert await rows(app, reason, card_id) == [("active", None)]
    refused(
        await client.post(
            f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
        ),
        409,
        "conflict",
        f"card {card_id} is basic: its balance is not recoverable",
    )
    assert await count_rows(app, "cards") == 1


async def test_an_unknown_card_is_named_in_every_404(client: httpx.AsyncClient) -> None:
    unknown = 424242
    detail = f"card {unknown} does not exist"
    for answer in (
        await client.get(f"/api/v1/cards/{unknown}/balance"),
        await client.get(f"/api/v1/trips/card/{unknown}"),
        await client.post(f"/api/v1/cards/{unknown}/block", json={"reason": "lost"}),
        await client.post(f"/api/v1/cards/{unknown}/unblock"),
        await client.post(
            f"/api/v1/cards/{unknown}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
        ),
    ):
        refused(answer, 404, "not_found", detail)
