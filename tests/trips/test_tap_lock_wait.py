"""A tap that waits for its card's lock prices against the taps committed while it waited.

The card lock and the tap's context are read by one statement, whose snapshot predates its
lock wait; when the card row changed meanwhile the context is read again. Two taps of a card
at one validator queue behind a lock we hold: the second must be answered as a double tap.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, ledger_ok
from tests.money import balance, cards_held, funded_card, tap, wait_for_lock_waiters
from travel_recharge.trips import repository

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550


async def double_tap_behind_a_lock(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> tuple[int, list[int]]:
    """Two taps of one card at one validator, released together; (card, statuses)."""
    card_id = await funded_card(client, 10000)
    async with cards_held(app, card_id):
        pending = [
            asyncio.create_task(
                tap(client, card_id, station_id=network.trunk_station, validator="V-DOOR-1")
            )
            for _ in range(2)
        ]
        await wait_for_lock_waiters(app, 2)
    answers = await asyncio.gather(*pending)
    return card_id, sorted(answer.status_code for answer in answers)


async def test_a_double_tap_queued_behind_the_card_lock_is_charged_once(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id, statuses = await double_tap_behind_a_lock(client, app, network)
    assert statuses == [200, 201]  # the second is answered with the first tap
    assert await balance(client, card_id) == 10000 - FARE_2026
    await ledger_ok(client)


async def test_without_the_freshness_check_the_same_race_charges_twice(
    client: httpx.AsyncClient, app: FastAPI, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: with the check replaced by `true`, the second tap prices
    against its statement's snapshot, which misses the first, and is charged again."""
    statement = repository._LOCK_CARD_WITH_CONTEXT
    assert repository.CONTEXT_IS_FRESH in statement
    monkeypatch.setattr(
        repository,
        "_LOCK_CARD_WITH_CONTEXT",
        statement.replace(repository.CONTEXT_IS_FRESH, "true"),
    )
    card_id, statuses = await double_tap_behind_a_lock(client, app, network)
    assert statuses == [201, 201]
    assert await balance(client, card_id) == 10000 - 2 * FARE_2026
