"""The service when PostgreSQL goes away: restarted under load, stopped for 5 s, or
read-only (a demoted primary). (Single connections killed: test_database_connections.)

What must hold: no 500 ever; a 503 with Retry-After while the database cannot serve; every
acknowledged tap and recharge in the database exactly once when the devices retry with the
same tap_id / Idempotency-Key; the ledger verifies. The checker is shown able to fail: a
device that retries with a new key after an unknown outcome is caught double-charging, and
an acknowledged write the database does not hold is reported lost.

A server of these tests' own (tests/kit/conftest.py), the app served by uvicorn over a
socket, a drill's devices on threads (cluster.drill), the verdict by cluster.checker.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import asyncpg
import httpx
import pytest

from tests.conftest import ServerUrls, make_settings, start_app
from tests.faults.postgres import LocalPostgres
from tests.kit.conftest import (
    Served,
    drill_plan,
    invalidations,
    judged,
    terminate_app_connections,
)
from travel_recharge.cluster.checker import check_answers, check_drill
from travel_recharge.cluster.drill.cards import DrillPlan
from travel_recharge.cluster.drill.devices import TAP_PATH, Device
from travel_recharge.cluster.drill.fleet import running
from travel_recharge.cluster.drill.log import Answer, Attempt, DrillLog, Operation
from travel_recharge.cluster.waiting import wait_until, wait_until_async
from travel_recharge.kit.scratch import libpq_url

# The drill's cards: tapped, and recharged (the two never share a card).
TAP_CARDS, RECHARGE_CARDS = 4, 2
# How long a test waits for the service to do something: generous, never a verdict.
PATIENCE_S = 60.0
# Acknowledged operations to see before a fault, and again after it (the service is back).
BEFORE, AFTER = 25, 25
OUTAGE_S = 5.0


def test_a_restart_under_load_answers_no_500_and_loses_no_acknowledged_write(
    served: Served, own_postgres: LocalPostgres
) -> None:
    plan = asyncio.run(drill_plan(served, TAP_CARDS, RECHARGE_CARDS))
    with invalidations(served) as discarded, running(plan) as drill:
        drill.wait_for_acknowledged(BEFORE)
        server_before = own_postgres.postmaster_pid()
        own_postgres.restart()
        drill.wait_for_acknowledged(AFTER)

    assert own_postgres.postmaster_pid() != server_before
    # The restart was met: connections it killed were found and thrown away.
    assert discarded, "no pooled connection was invalidated: the restart went unnoticed"
    judged(served, drill.log, plan.cards)


def test_a_stop_of_five_seconds_answers_503_with_retry_after_and_loses_nothing(
    served: Served, own_postgres: LocalPostgres
) -> None:
    plan = asyncio.run(drill_plan(served, TAP_CARDS, RECHARGE_CARDS))
    with running(plan) as drill, httpx.Client(base_url=served.base_url, timeout=10) as probe:
        log = drill.log
        drill.wait_for_acknowledged(BEFORE)
        own_postgres.stop()
        stopped_at = time.monotonic()
        wait_until("a device is told 503", PATIENCE_S, lambda: log.statuses()[503] > 0)
        health = probe.get("/api/v1/health/db")
        assert (health.status_code, health.json()["status"]) == (503, "down")
        # The fault lasts 5 s (a duration of the outage, not a verdict).
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
        own_postgres.start()
        drill.wait_for_acknowledged(AFTER)
        wait_until(
            "health says 200 again",
            PATIENCE_S,
            lambda: probe.get("/api/v1/health/db").status_code == 200,
        )

    told_503 = [answer for answer in log.answers if answer.status == 503]
    assert {(a.error, a.retry_after) for a in told_503} == {
        ("database_unavailable", str(served.settings.db_unavailable_retry_after_s))
    }
    retried = [op for op in log.operations if op.retried]
    assert retried, "no write was retried across the outage"
    assert all(len(op.keys) == 1 for op in retried)
    judged(served, log, plan.cards)


def test_a_read_only_primary_answers_503_and_the_retried_tap_applies_once(
    served: Served, own_postgres: LocalPostgres
) -> None:
    """25006 read_only_sql_transaction, as a demoted primary answers during a failover."""
    plan = asyncio.run(drill_plan(served, 1, 0))
    log = DrillLog()
    device = Device(plan, log)
    asyncio.run(_read_only(own_postgres, served.database_url, True))
    try:
        with _in_thread(lambda: device.tap(plan.cards.tap_cards[0])) as done:
            wait_until("the tap is told 503", PATIENCE_S, lambda: log.statuses()[503] > 0)
            asyncio.run(_read_only(own_postgres, served.database_url, False))
            wait_until("the retried tap is acknowledged", PATIENCE_S, done.is_set)
    finally:
        asyncio.run(_read_only(own_postgres, served.database_url, False))
        device.close()

    (tap,) = log.operations
    statuses = [attempt.answer.status for attempt in tap.attempts]
    assert statuses[0] == 503, statuses
    assert statuses[-1] == 201, statuses
    assert len(tap.keys) == 1
    judged(served, log, plan.cards)


@pytest.mark.parametrize("new_key_on_retry", [False, True], ids=["same key", "new key (a bug)"])
def test_a_write_with_an_unknown_outcome_applies_once_when_retried_with_its_key(
    served: Served, new_key_on_retry: bool
) -> None:
    """The device times out while its tap and recharge wait on a locked card (their outcome
    is unknown to it) and retries. With the same key each applies once; with a new key
    both apply again, and the checker must say so."""
    plan = asyncio.run(drill_plan(served, 1, 1))
    # Devices that wait 1 s for an answer, then retry (with a new key: the bug).
    plan = replace(plan, request_timeout_s=1.0, new_key_on_retry=new_key_on_retry)
    log = DrillLog()
    asyncio.run(_unknown_outcomes(served, plan, log))
    (tap,) = [op for op in log.operations if op.kind == "tap"]
    (recharge,) = [op for op in log.operations if op.kind == "recharge"]
    for operation in (tap, recharge):
        assert operation.attempts[0].answer.status is None  # timed out: outcome unknown
        assert operation.acknowledged
    assert check_answers(log, served.settings.db_unavailable_retry_after_s) == []
    verdict = asyncio.run(check_drill(served.database_url, log, plan.cards))

    if not new_key_on_retry:
        assert verdict.problems == []
        assert (len(tap.keys), len(recharge.keys)) == (1, 1)
        return
    assert _named(tap, verdict.applied_twice), verdict.problems
    assert _named(recharge, verdict.applied_twice), verdict.problems
    assert verdict.lost == verdict.unexplained == verdict.ledger_mismatches == []


def test_the_checker_reports_a_lost_write_and_a_write_nobody_sent(served: Served) -> None:
    plan = asyncio.run(drill_plan(served, 1, 0))
    log = DrillLog()
    card = plan.cards.tap_cards[0]
    # Told 201, never in the database (as a write lost in a failover would be).
    ghost = log.new_operation("tap", card, 0, time.monotonic())
    ghost.attempts.append(
        Attempt(str(uuid.uuid4()), Answer("POST", TAP_PATH, 201), time.monotonic())
    )
    ghost.acknowledge({"trip_id": 2**40}, time.monotonic())
    # In the database, sent by no device of the log.
    stranger = httpx.post(
        f"{served.base_url}{TAP_PATH}",
        headers=dict(plan.tap_headers),
        json={
            "card_id": card,
            "station_id": plan.cards.station_id,
            "validator_id": "V-stranger",
            "tap_id": str(uuid.uuid4()),
        },
    )
    assert stranger.status_code == 201

    verdict = asyncio.run(check_drill(served.database_url, log, plan.cards))
    assert verdict.lost == [f"tap #{ghost.op_id} card {card} keys {ghost.keys} (trip_id {2**40})"]
    assert verdict.unexplained == [
        f"trip {stranger.json()['trip_id']} (key {stranger.json()['tap_id']})"
    ]
    assert len(verdict.problems) == 2


async def test_the_503_carries_the_configured_retry_after(test_servers: ServerUrls) -> None:
    settings = make_settings(
        test_servers,
        # Port 1 on loopback: nothing listens, the connection is refused at once.
        database_url="postgresql://postgres@127.0.0.1:1/nowhere",
        db_unavailable_retry_after_s=7,
    )
    async for _, client in start_app(settings):
        for response in (
            await client.get("/api/v1/cards/1/ledger"),
            await client.post(
                "/api/v1/trips/start",
                json={
                    "card_id": 1,
                    "station_id": 1,
                    "validator_id": "V-1",
                    "tap_id": str(uuid.uuid4()),
                },
            ),
        ):
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "7"
            assert response.json()["error"] == "database_unavailable"
            assert "127.0.0.1" not in response.text


async def test_routes_that_reach_the_database_document_their_503(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in (
        ("/api/v1/trips/start", "post"),
        ("/api/v1/cards/recharge", "post"),
        ("/api/v1/cards/{card_id}/balance", "get"),
        ("/api/v1/admin/ledger/verify", "get"),
    ):
        described = paths[path][method]["responses"]["503"]["description"]
        assert described.startswith("DatabaseUnavailable: The database did not answer")
    # The cache's own health never asks the database.
    assert "DatabaseUnavailable" not in str(paths["/api/v1/health/cache"]["get"]["responses"])


# --- helpers -------------------------------------------------------------------------------


def _named(operation: Operation, items: list[str]) -> bool:
    return any(item.startswith(f"{operation.kind} #{operation.op_id} ") for item in items)


@contextmanager
def _in_thread(work: Callable[[], object]) -> Iterator[threading.Event]:
    """Run `work` on a thread during the block; the event is set when it has finished."""
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        thread.join(timeout=120)


async def _read_only(server: LocalPostgres, database_url: str, read_only: bool) -> None:
    """Make new sessions of the database read-only (or not), and end the app's current ones
    so that its pool reconnects into the new state."""
    connection = await asyncpg.connect(libpq_url(server.url()))
    try:
        name = database_url.rsplit("/", 1)[1]
        setting = "SET default_transaction_read_only = on" if read_only else "RESET ALL"
        await connection.execute(f'ALTER DATABASE "{name}" {setting}')
    finally:
        await connection.close()
    await terminate_app_connections(database_url)


async def _unknown_outcomes(served: Served, plan: DrillPlan, log: DrillLog) -> None:
    """A tap and a recharge sent while their cards are locked, so their devices time out;
    the lock is let go once both have retried."""
    cards = plan.cards.all_cards
    blocker = await asyncpg.connect(libpq_url(served.database_url))
    devices = [Device(plan, log) for _ in cards]
    try:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("SELECT 1 FROM cards WHERE id = ANY($1::bigint[]) FOR UPDATE", cards)
        operations = asyncio.gather(
            asyncio.to_thread(devices[0].tap, plan.cards.tap_cards[0]),
            asyncio.to_thread(devices[1].recharge, plan.cards.recharge_cards[0], 5_000),
        )

        async def both_retried() -> bool:
            started = log.operations
            return len(started) == 2 and all(op.retried for op in started)

        await wait_until_async("both devices timed out and retried", PATIENCE_S, both_retried)
        await locked.rollback()
        await operations
    finally:
        await blocker.close()
        for device in devices:
            device.close()
