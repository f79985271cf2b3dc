"""The service when PostgreSQL goes away: restarted under load, stopped for 5 s, or
read-only (a demoted primary). (Single connections killed: test_database_connections.)

What must hold: no 500 ever; a 503 with Retry-After while the database cannot serve; every
acknowledged tap and recharge in the database exactly once when the devices retry with the
same tap_id / Idempotency-Key; the ledger verifies. The checker is shown able to fail: a
device that retries with a new key after an unknown outcome is caught double-charging, and
an acknowledged write the database does not hold is reported lost.

A server of these tests' own (tests/kit/conftest.py), the app served by uvicorn over a
socket, devices on threads (tests.faults.load), the verdict by tests.faults.checker.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest

from tests.conftest import ServerUrls, make_settings, start_app
from tests.faults.checker import check, check_answers
from tests.faults.load import Answer, Attempt, ClientLog, Device, Load, Operation, running
from tests.faults.polling import eventually, wait_until
from tests.faults.postgres import LocalPostgres
from tests.faults.world import POINT_ID, STATION_ID, funded_workload
from tests.kit.conftest import Served, invalidations, judged, terminate_app_connections
from travel_recharge.kit.scratch import libpq_url

CARDS = 6
# Acknowledged operations to see before a fault, and again after it (the service is back).
BEFORE, AFTER = 25, 25
OUTAGE_S = 5.0


def test_a_restart_under_load_answers_no_500_and_loses_no_acknowledged_write(
    served: Served, own_postgres: LocalPostgres
) -> None:
    log = ClientLog()
    load = Load(funded_workload(served.base_url, served.headers, log, CARDS), log)
    with invalidations(served) as discarded, running(load):
        load.wait_for_acknowledged(log.acknowledged() + BEFORE)
        server_before = own_postgres.postmaster_pid()
        own_postgres.restart()
        load.wait_for_acknowledged(log.acknowledged() + AFTER)

    assert own_postgres.postmaster_pid() != server_before
    # The restart was met: connections it killed were found and thrown away.
    assert discarded, "no pooled connection was invalidated: the restart went unnoticed"
    judged(served, log)


def test_a_stop_of_five_seconds_answers_503_with_retry_after_and_loses_nothing(
    served: Served, own_postgres: LocalPostgres
) -> None:
    log = ClientLog()
    load = Load(funded_workload(served.base_url, served.headers, log, CARDS), log)
    with running(load), httpx.Client(base_url=served.base_url, timeout=10) as probe:
        load.wait_for_acknowledged(log.acknowledged() + BEFORE)
        own_postgres.stop()
        stopped_at = time.monotonic()
        wait_until(lambda: log.statuses()[503] > 0, "a device is told 503")
        health = probe.get("/api/v1/health/db")
        assert (health.status_code, health.json()["status"]) == (503, "down")
        # The fault lasts 5 s (a duration of the outage, not a verdict).
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
        own_postgres.start()
        load.wait_for_acknowledged(log.acknowledged() + AFTER)
        wait_until(
            lambda: probe.get("/api/v1/health/db").status_code == 200, "health says 200 again"
        )

    told_503 = [answer for answer in log.answers if answer.status == 503]
    assert {(a.error, a.retry_after) for a in told_503} == {
        ("database_unavailable", str(served.settings.db_unavailable_retry_after_s))
    }
    retried = [op for op in log.operations if len(op.attempts) > 1]
    assert retried, "no write was retried across the outage"
    assert all(len(op.keys) == 1 for op in retried)
    judged(served, log)


def test_a_read_only_primary_answers_503_and_the_retried_tap_applies_once(
    served: Served, own_postgres: LocalPostgres
) -> None:
    """25006 read_only_sql_transaction, as a demoted primary answers during a failover."""
    log = ClientLog()
    workload = funded_workload(served.base_url, served.headers, log, 1)
    first = len(log.operations)
    device = Device(served.base_url, served.headers, log)
    asyncio.run(_read_only(own_postgres, served.database_url, True))
    try:
        with _in_thread(lambda: device.tap(workload.cards[0], STATION_ID)) as done:
            wait_until(lambda: log.statuses()[503] > 0, "the tap is told 503")
            asyncio.run(_read_only(own_postgres, served.database_url, False))
            wait_until(done.is_set, "the retried tap is acknowledged")
    finally:
        asyncio.run(_read_only(own_postgres, served.database_url, False))
        device.close()

    (tap,) = log.operations[first:]
    statuses = [attempt.answer.status for attempt in tap.attempts]
    assert statuses[0] == 503, statuses
    assert statuses[-1] == 201, statuses
    assert len(tap.keys) == 1
    judged(served, log)


@pytest.mark.parametrize("new_key_on_retry", [False, True], ids=["same key", "new key (a bug)"])
def test_a_write_with_an_unknown_outcome_applies_once_when_retried_with_its_key(
    served: Served, new_key_on_retry: bool
) -> None:
    """The device times out while its tap and recharge wait on a locked card (their outcome
    is unknown to it) and retries. With the same key each applies once; with a new key
    both apply again, and the checker must say so."""
    log = ClientLog()
    workload = funded_workload(served.base_url, served.headers, log, 2)
    first = len(log.operations)
    asyncio.run(_unknown_outcomes(served, workload.cards, log, first, new_key_on_retry))
    tap, recharge = log.operations[first:]
    for operation in (tap, recharge):
        assert operation.attempts[0].answer.status is None  # timed out: outcome unknown
        assert operation.acknowledged is not None
    assert check_answers(log, served.settings.db_unavailable_retry_after_s) == []
    verdict = asyncio.run(check(served.database_url, log))

    if not new_key_on_retry:
        assert verdict.problems == []
        assert (len(tap.keys), len(recharge.keys)) == (1, 1)
        return
    assert _named(tap, verdict.applied_twice), verdict.problems
    assert _named(recharge, verdict.applied_twice), verdict.problems
    assert verdict.lost == verdict.unexplained == verdict.ledger_mismatches == []


def test_the_checker_reports_a_lost_write_and_a_write_nobody_sent(served: Served) -> None:
    log = ClientLog()
    workload = funded_workload(served.base_url, served.headers, log, 1)
    card = workload.cards[0]
    # Told 201, never in the database (as a write lost in a failover would be).
    ghost = log.new_operation("tap", card, None)
    ghost.attempts.append(Attempt(str(uuid.uuid4()), Answer("POST", "/api/v1/trips/start", 201)))
    ghost.acknowledged = {"trip_id": 2**40}
    # In the database, sent by no device of the log.
    stranger = httpx.post(
        f"{served.base_url}/api/v1/trips/start",
        headers=served.headers,
        json={
            "card_id": card,
            "station_id": STATION_ID,
            "validator_id": "V-stranger",
            "tap_id": str(uuid.uuid4()),
        },
    )
    assert stranger.status_code == 201

    verdict = asyncio.run(check(served.database_url, log))
    assert verdict.lost == [f"tap #{ghost.op_id} card {card} keys {ghost.keys}"]
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


async def _unknown_outcomes(
    served: Served, cards: list[int], log: ClientLog, first: int, new_key_on_retry: bool
) -> None:
    tap_card, recharge_card = cards
    blocker = await asyncpg.connect(libpq_url(served.database_url))
    devices = [
        Device(
            served.base_url, served.headers, log, timeout_s=1.0, new_key_on_retry=new_key_on_retry
        )
        for _ in cards
    ]
    try:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("SELECT 1 FROM cards WHERE id = ANY($1::bigint[]) FOR UPDATE", cards)
        operations = asyncio.gather(
            asyncio.to_thread(devices[0].tap, tap_card, STATION_ID),
            asyncio.to_thread(devices[1].recharge, recharge_card, 5_000, POINT_ID),
        )

        async def both_retried() -> bool:
            started = log.operations[first:]
            return len(started) == 2 and all(len(op.attempts) >= 2 for op in started)

        await eventually(both_retried, "both devices timed out and retried")
        await locked.rollback()
        await operations
    finally:
        await blocker.close()
        for device in devices:
            device.close()
