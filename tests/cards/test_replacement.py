"""The lost-card flow: a blocked personalized card replaced, its debt moved with its balance,
one Idempotency-Key per replacement, concurrent replacements of one card, and what a
replacement records: both cards' status and link, who moved the money, the simulator's flag."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_ACCOUNT_ID, Network, count_rows
from tests.money import cards_held, new_card, recharge, tap, wait_for_lock_waiters

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550
BOGOTA = ZoneInfo("America/Bogota")


async def replace(client: httpx.AsyncClient, card_id: int, key: str) -> httpx.Response:
    return await client.post(f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": key})


async def replace_at_once(
    client: httpx.AsyncClient, app: FastAPI, card_id: int, keys: list[str]
) -> list[httpx.Response]:
    """One replacement request per key, all queued behind a lock on the card (each on its own
    pool connection) and then let go together."""
    async with cards_held(app, card_id):
        pending = [asyncio.create_task(replace(client, card_id, key)) for key in keys]
        await wait_for_lock_waiters(app, len(keys))
    return list(await asyncio.gather(*pending))


async def entries(client: httpx.AsyncClient, card_id: int) -> list[tuple[str, int, int]]:
    """The card's ledger as (kind, amount, balance after), newest first."""
    response = await client.get(f"/api/v1/cards/{card_id}/ledger")
    assert response.status_code == 200, response.text
    return [(e["kind"], e["amount"], e["balance_after"]) for e in response.json()["entries"]]


async def view(client: httpx.AsyncClient, card_id: int) -> dict[str, object]:
    response = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


async def rows(app: FastAPI, query: str, *args: object) -> list[tuple[Any, ...]]:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(query, args)
        return [tuple(row) for row in result.all()]


async def lost_card(client: httpx.AsyncClient, amount: int) -> int:
    """A personalized card holding `amount`, reported lost (blocked)."""
    card_id = await new_card(client, "personalized")
    if amount:
        assert (await recharge(client, card_id, amount)).status_code == 201
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200, blocked.text
    return card_id


async def test_a_card_owing_a_credit_trip_passes_its_debt_to_the_replacement(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client, "personalized")
    on_credit = await tap(client, card_id, station_id=network.trunk_station)
    assert on_credit.status_code == 201, on_credit.text
    assert (on_credit.json()["fare_kind"], on_credit.json()["balance_after"]) == (
        "credit",
        -FARE_2026,
    )
    assert (await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})).is_success

    response = await replace(client, card_id, uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    body = response.json()
    new_id = body["new_card"]["card_id"]
    assert body["balance_moved"] == -FARE_2026
    assert (body["new_card"]["balance"], body["new_card"]["credit_trips_in_use"]) == (-FARE_2026, 1)
    assert body["new_card"]["status"] == "active"
    old = await view(client, card_id)
    assert (old["status"], old["balance"], old["credit_trips_in_use"]) == ("replaced", 0, 0)
    new = await view(client, new_id)
    assert (new["balance"], new["credit_trips_in_use"], new["credit_trips_available"]) == (
        -FARE_2026,
        1,
        1,
    )
    assert await entries(client, card_id) == [
        ("balance_transfer", FARE_2026, 0),
        ("fare", -FARE_2026, -FARE_2026),
    ]
    assert await entries(client, new_id) == [("balance_transfer", -FARE_2026, -FARE_2026)]
    # The next recharge of the new card repays the debt first and restores the credit.
    repaid = await recharge(client, new_id, 10000)
    assert repaid.status_code == 201, repaid.text
    assert (repaid.json()["credit_repaid"], repaid.json()["new_balance"]) == (
        FARE_2026,
        10000 - FARE_2026,
    )
    after = await view(client, new_id)
    assert (after["balance"], after["credit_trips_in_use"]) == (10000 - FARE_2026, 0)
    assert await entries(client, new_id) == [
        ("recharge", 10000 - FARE_2026, 10000 - FARE_2026),
        ("credit_repayment", FARE_2026, 0),
        ("balance_transfer", -FARE_2026, -FARE_2026),
    ]


async def test_one_key_for_another_card_is_409_and_replaces_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first, second = await lost_card(client, 20000), await lost_card(client, 7000)
    key = uuid.uuid4().hex
    assert (await replace(client, first, key)).status_code == 201
    reused = await replace(client, second, key)
    assert reused.status_code == 409
    assert reused.json() == {
        "error": "conflict",
        "detail": "Idempotency-Key was already used with a different request body; use a new key",
    }
    assert "idempotent-replayed" not in reused.headers
    assert await count_rows(app, "cards") == 3
    still = await view(client, second)
    assert (still["status"], still["balance"]) == ("blocked", 7000)
    assert await entries(client, second) == [("recharge", 7000, 7000)]


async def test_concurrent_replacements_with_their_own_keys_replace_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await lost_card(client, 20000)
    answers = await replace_at_once(client, app, card_id, [uuid.uuid4().hex for _ in range(5)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 4, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json() == {
            "error": "conflict",
            "detail": f"card {card_id} is replaced and cannot be replaced",
        }
    (made,) = [a.json() for a in answers if a.status_code == 201]
    new_id = made["new_card"]["card_id"]
    assert await count_rows(app, "cards") == 2
    assert (await view(client, new_id))["balance"] == 20000
    assert await entries(client, card_id) == [
        ("balance_transfer", -20000, 0),
        ("recharge", 20000, 20000),
    ]
    assert await entries(client, new_id) == [("balance_transfer", 20000, 20000)]


async def test_concurrent_retries_of_one_replacement_replace_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await lost_card(client, 20000)
    key = uuid.uuid4().hex
    answers = await replace_at_once(client, app, card_id, [key] * 5)
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    replayed = sorted(a.headers.get("idempotent-replayed", "no") for a in answers)
    assert replayed == ["no"] + ["true"] * 4
    # One answer and four replays of it (a replay's keys come in the stored JSONB's order).
    assert all(a.json() == answers[0].json() for a in answers)
    new_id = answers[0].json()["new_card"]["card_id"]
    assert await count_rows(app, "cards") == 2
    assert await entries(client, new_id) == [("balance_transfer", 20000, 20000)]


async def test_a_replacement_links_the_cards_and_records_who_moved_the_balance(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await lost_card(client, 20000)
    response = await replace(client, card_id, uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    new_id = response.json()["new_card"]["card_id"]
    cards = await rows(
        app,
        "SELECT id, status, status_reason, replaced_by_card_id, simulated, balance"
        " FROM cards ORDER BY id",
    )
    assert cards == [
        (card_id, "replaced", "replaced by a new card", new_id, False, 0),
        (new_id, "active", None, None, False, 20000),
    ]
    # Both halves of the transfer name the account that asked for it (the test's admin).
    transfers = await rows(
        app,
        "SELECT card_id, amount, counterpart_card_id, account_id, note FROM ledger_entries"
        " WHERE kind = 'balance_transfer' ORDER BY amount",
    )
    assert transfers == [
        (card_id, -20000, new_id, TEST_ACCOUNT_ID, "balance moved to the replacement card"),
        (new_id, 20000, card_id, TEST_ACCOUNT_ID, "balance received from the replaced card"),
    ]


async def test_a_simulated_cards_replacement_is_simulated_too(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The balance a simulated card holds is the simulator's money: the card receiving it
    must stay out of real riders' figures too."""
    card_id = await lost_card(client, 5000)
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "UPDATE cards SET simulated = true WHERE id = $1", (card_id,)
        )
    response = await replace(client, card_id, uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    new_id = response.json()["new_card"]["card_id"]
    assert await rows(app, "SELECT id, simulated FROM cards ORDER BY id") == [
        (card_id, True),
        (new_id, True),
    ]


async def test_replacing_a_card_holding_nothing_writes_no_ledger_entry(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    card_id = await lost_card(client, 0)
    response = await replace(client, card_id, uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["balance_moved"], body["new_card"]["balance"]) == (0, 0)
    assert await count_rows(app, "ledger_entries") == 0
    assert await entries(client, body["new_card"]["card_id"]) == []


async def test_a_cached_card_view_shows_its_block_unblock_and_replacement(
    client: httpx.AsyncClient,
) -> None:
    """Each write invalidates the card's views after its commit: a view read (and cached)
    just before shows the write at once."""
    card_id = await new_card(client, "personalized")
    assert (await recharge(client, card_id, 9000)).status_code == 201
    assert (await view(client, card_id))["status"] == "active"  # cached now
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200, blocked.text
    assert (await view(client, card_id))["status"] == "blocked"
    unblocked = await client.post(f"/api/v1/cards/{card_id}/unblock")
    assert unblocked.status_code == 200, unblocked.text
    assert (await view(client, card_id))["status"] == "active"
    response = await replace(client, card_id, uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    old = await view(client, card_id)
    assert (old["status"], old["balance"]) == ("replaced", 0)
    new = await view(client, response.json()["new_card"]["card_id"])
    assert (new["status"], new["balance"]) == ("active", 9000)


@pytest.mark.usefixtures("wide_offline_window")
async def test_a_replacement_brings_no_fresh_month_of_benefit_trips(
    client: httpx.AsyncClient, network: Network
) -> None:
    """Monthly free trips are the person's: 8 a month for the elderly profile (2026 policy),
    used on the lost card, are used up for the new card too until the next Bogotá month."""
    card_id = await new_card(client, "personalized", profile="elderly")
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    for day in range(2, 10):  # one trip a day, far apart: eight new fares, all free
        at = datetime(2026, 3, day, 8, 0, tzinfo=BOGOTA)
        free = await tap(client, card_id, station_id=network.trunk_station, at=at)
        assert free.status_code == 201, free.text
        assert (free.json()["fare_kind"], free.json()["fare_charged"]) == ("free_trip", 0)
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200, blocked.text
    replaced = await replace(client, card_id, uuid.uuid4().hex)
    assert replaced.status_code == 201, replaced.text
    new_id = replaced.json()["new_card"]["card_id"]

    march = datetime(2026, 3, 10, 8, 0, tzinfo=BOGOTA)
    paid = await tap(client, new_id, station_id=network.trunk_station, at=march)
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["fare_kind"], body["fare_charged"], body["benefit_trip_used"]) == (
        "full",
        FARE_2026,
        False,
    )
    assert body["balance_after"] == 10_000 - FARE_2026
    april = datetime(2026, 4, 1, 8, 0, tzinfo=BOGOTA)
    free_again = await tap(client, new_id, station_id=network.trunk_station, at=april)
    assert free_again.status_code == 201, free_again.text
    assert (free_again.json()["fare_kind"], free_again.json()["fare_charged"]) == ("free_trip", 0)
