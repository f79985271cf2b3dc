"""The recharge's driver-level path (issue #19): the rows it writes, value by value, and the
number of statements it takes on the asyncpg connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_ACCOUNT_ID, Network, count_rows, ledger_ok
from tests.money import new_card, recharge, tap
from travel_recharge.cards import service
from travel_recharge.cards.schemas import RechargeRequest
from travel_recharge.kit import idempotency
from travel_recharge.kit.db import DriverTransaction

pytestmark = pytest.mark.usefixtures("network")


async def rows(app: FastAPI, query: str, *args: object) -> list[tuple[Any, ...]]:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(query, args)
        return [tuple(row) for row in result.all()]


async def test_a_recharge_writes_exactly_its_rows(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    """Credit repayment and recharge entries, the recharge, the card and the stored answer,
    value by value (the same rows the ORM path wrote before)."""
    card_id = await new_card(client, "personalized")
    assert (await recharge(client, card_id, 1000)).status_code == 201
    on_credit = await tap(client, card_id, station_id=network.trunk_station)
    assert (on_credit.status_code, on_credit.json()["balance_after"]) == (201, -2550)
    [(last_used_before,)] = await rows(app, "SELECT last_used_at FROM cards WHERE id = $1", card_id)

    response = await recharge(client, card_id, 5000, key="exact-rows")
    assert response.status_code == 201, response.text
    body = response.json()
    recharge_id = body["recharge_id"]
    assert body == {
        "recharge_id": recharge_id,
        "card_id": card_id,
        "amount": 5000,
        "new_balance": 2450,
        "credit_repaid": 2550,
        "recharge_point_id": network.counter,
        "channel": "counter",
        "recharge_timestamp": body["recharge_timestamp"],
    }
    at = datetime.fromisoformat(body["recharge_timestamp"])

    recharges = await rows(
        app,
        "SELECT card_id, recharge_point_id, channel, amount, credit_repaid, new_balance,"
        " created_at, account_id FROM recharges WHERE id = $1",
        recharge_id,
    )
    assert recharges == [
        (card_id, network.counter, "counter", 5000, 2550, 2450, at, TEST_ACCOUNT_ID)
    ]
    entries = await rows(
        app,
        "SELECT card_id, kind, amount, balance_after, trip_id, counterpart_card_id, note,"
        " account_id FROM ledger_entries WHERE recharge_id = $1 ORDER BY id",
        recharge_id,
    )
    assert entries == [
        (card_id, "credit_repayment", 2550, 0, None, None, None, TEST_ACCOUNT_ID),
        (card_id, "recharge", 2450, 2450, None, None, None, TEST_ACCOUNT_ID),
    ]
    # The newest entry of the card is the recharge's, carrying the card's balance.
    [(newest,)] = await rows(
        app,
        "SELECT recharge_id FROM ledger_entries WHERE card_id = $1 ORDER BY id DESC LIMIT 1",
        card_id,
    )
    assert newest == recharge_id
    # 2450 does not cover a full fare (3550): the credit trip stays counted.
    card = await rows(
        app,
        "SELECT balance, credit_trips_in_use, status, last_used_at FROM cards WHERE id = $1",
        card_id,
    )
    assert card == [(2450, 1, "active", last_used_before)]
    stored = await rows(
        app,
        "SELECT request_hash, status_code, response FROM idempotency_records"
        " WHERE scope = 'recharge' AND key = 'exact-rows'",
    )
    request = {"card_id": card_id, "amount": 5000, "recharge_point_id": network.counter}
    assert stored == [(idempotency.fingerprint(request), 201, body)]

    # Credit restored once the balance covers a fare: one entry only, no repayment.
    restored = await recharge(client, card_id, 2000)
    assert restored.json()["credit_repaid"] == 0
    entries = await rows(
        app,
        "SELECT kind, amount, balance_after FROM ledger_entries WHERE recharge_id = $1",
        restored.json()["recharge_id"],
    )
    assert entries == [("recharge", 2000, 4450)]
    card = await rows(app, "SELECT balance, credit_trips_in_use FROM cards WHERE id = $1", card_id)
    assert card == [(4450, 0)]
    await ledger_ok(client)


async def test_a_replay_writes_nothing_and_answers_the_stored_body(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    card_id = await new_card(client)
    first = await recharge(client, card_id, 3000, key="replayed")
    counts = [await count_rows(app, t) for t in ("recharges", "ledger_entries")]
    again = await recharge(client, card_id, 3000, key="replayed")
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert [await count_rows(app, t) for t in ("recharges", "ledger_entries")] == counts


# asyncpg's own type introspection: once per connection, the first time a statement meets a
# type it has no codec for yet (a connection the pool has just opened), never per recharge.
INTROSPECTION = (
    "SELECT current_setting('jit')",
    "WITH RECURSIVE typeinfo_tree",
    "SELECT set_config('jit'",
)


class Statements:
    """The statements one asyncpg connection runs (asyncpg's query logger), each by its first
    three words, asyncpg's type introspection left out."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, record: asyncpg.connection.LoggedQuery) -> None:
        query = " ".join(record.query.split())
        if not query.startswith(INTROSPECTION):
            self.seen.append(" ".join(query.split()[:3]))


async def run_recharge(
    app: FastAPI, request: RechargeRequest, key: str, statements: Statements
) -> service.Answer:
    """One recharge through the service on a connection of the pool, as the endpoint runs it
    (db._driver_transaction), with the connection's statements recorded."""
    async with app.state.database.primary.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        driver.add_query_logger(statements)
        try:
            async with driver.transaction():
                unit = DriverTransaction(driver)
                answer = await service.recharge(
                    unit,
                    app.state.cache,
                    request,
                    key,
                    datetime.now(UTC),
                    account_id=TEST_ACCOUNT_ID,
                )
            await unit.run_hooks()
            # asyncpg calls the logger soon (call_soon) after each statement: let it see the
            # COMMIT (the hooks may not have given the loop a turn: a test before this one
            # can leave the cache's breaker open, and then they never await Redis).
            for _ in range(100):
                if statements.seen[-1:] == ["COMMIT;"]:
                    break
                await asyncio.sleep(0)
        finally:
            driver.remove_query_logger(statements)
    return answer


@pytest.mark.parametrize("replay", [False, True], ids=["first", "replay"])
async def test_a_recharge_takes_two_statements(
    app: FastAPI, client: httpx.AsyncClient, network: Network, replay: bool
) -> None:
    """BEGIN, two statements, COMMIT: the claim with the card lock and its reads, then every
    write (a replay: the claim, then the stored answer)."""
    card_id = await new_card(client)
    request = RechargeRequest(card_id=card_id, amount=4000, recharge_point_id=network.counter)
    if replay:
        assert (await run_recharge(app, request, "counted", Statements())).status_code == 201
    statements = Statements()
    answer = await run_recharge(app, request, "counted", statements)
    assert (answer.status_code, answer.replayed) == (201, replay)
    second = "SELECT request_hash, status_code," if replay else "WITH recharge AS"
    assert statements.seen == ["BEGIN;", "WITH claim AS", second, "COMMIT;"]
    assert answer.body["new_balance"] == 4000
    await ledger_ok(client)
