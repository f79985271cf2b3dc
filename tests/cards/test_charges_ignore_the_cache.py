"""A balance that decides a charge is read from PostgreSQL, never from the cache (rule 5).

Each test plants a wrong balance in the card's cached balance view, shows the view serving it
(so the plant is real and would be seen by anything reading the cache), then taps or
recharges: the charge follows the stored balance, and the write's invalidation drops the lie.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, ServerUrls, count_rows
from tests.money import balance, new_card, plant_cached_balance, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550


async def card_with_planted_balance(
    client: httpx.AsyncClient, servers: ServerUrls, real: int, planted: int
) -> int:
    card_id = await new_card(client)
    assert (await recharge(client, card_id, real)).status_code == 201
    assert await balance(client, card_id) == real  # now cached
    await plant_cached_balance(servers.redis_url, servers.namespace, card_id, planted)
    assert await balance(client, card_id) == planted  # served from the cache
    return card_id


async def test_a_tap_is_declined_by_the_stored_balance_not_a_rich_cached_one(
    client: httpx.AsyncClient, app: FastAPI, test_servers: ServerUrls, network: Network
) -> None:
    card_id = await card_with_planted_balance(client, test_servers, 1000, 100_000)
    response = await tap(client, card_id, station_id=network.trunk_station)
    assert response.status_code == 402, response.text
    assert response.json() == {
        "error": "insufficient_balance",
        "detail": f"card {card_id}: insufficient balance: 1000 < {FARE_2026} "
        "and basic cards have no credit",
    }
    assert await count_rows(app, "trips") == 0


async def test_a_tap_is_charged_from_the_stored_balance_not_a_poor_cached_one(
    client: httpx.AsyncClient, test_servers: ServerUrls, network: Network
) -> None:
    card_id = await card_with_planted_balance(client, test_servers, 5000, 100)
    response = await tap(client, card_id, station_id=network.trunk_station)
    assert response.status_code == 201, response.text
    assert (response.json()["fare_charged"], response.json()["balance_after"]) == (
        FARE_2026,
        5000 - FARE_2026,
    )
    assert await balance(client, card_id) == 5000 - FARE_2026  # the tap dropped the lie


async def test_a_recharge_adds_to_the_stored_balance_not_a_cached_one(
    client: httpx.AsyncClient, test_servers: ServerUrls
) -> None:
    # Planted near the 418,000 maximum: added to it, this recharge would be refused (422).
    card_id = await card_with_planted_balance(client, test_servers, 5000, 400_000)
    response = await recharge(client, card_id, 50_000)
    assert response.status_code == 201, response.text
    assert (response.json()["new_balance"], response.json()["credit_repaid"]) == (55_000, 0)
    assert await balance(client, card_id) == 55_000
    entries = (await client.get(f"/api/v1/cards/{card_id}/ledger")).json()["entries"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("recharge", 50_000, 55_000),
        ("recharge", 5000, 5000),
    ]
