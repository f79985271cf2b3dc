"""A recharge at a closed (inactive) recharge point is refused and writes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows
from tests.money import balance, new_card, recharge

pytestmark = pytest.mark.usefixtures("network")


async def set_point_active(app: FastAPI, point_id: int, active: bool) -> None:
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "UPDATE recharge_points SET active = $1 WHERE id = $2", (active, point_id)
        )


async def test_a_recharge_at_an_inactive_point_is_409_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await new_card(client)
    await set_point_active(app, network.counter, False)
    key = uuid.uuid4().hex
    refused = await recharge(client, card_id, 5000, point=network.counter, key=key)
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "error": "conflict",
        "detail": f"recharge point {network.counter} is not active",
    }
    for table in ("recharges", "ledger_entries", "idempotency_records"):
        assert await count_rows(app, table) == 0, table
    assert await balance(client, card_id) == 0
    # The refusal kept no answer for its key: once the point reopens, the same key recharges.
    await set_point_active(app, network.counter, True)
    reopened = await recharge(client, card_id, 5000, point=network.counter, key=key)
    assert reopened.status_code == 201, reopened.text
    assert "idempotent-replayed" not in reopened.headers
    assert reopened.json()["new_balance"] == 5000
    assert await balance(client, card_id) == 5000
