"""Connections the server ends (pg_terminate_backend: the same FATAL 57P01 a restart sends
every session) between requests, or while a read or a write waits inside the server.

- Between requests: the pool never hands the dead connections out; the next read, tap and
  recharge succeed at their first attempt.
- During a read: the read runs again on a fresh connection and answers 200.
- During a tap: 503 with Retry-After (the service cannot know whether it committed); the
  device's retry with the same tap_id applies it exactly once.
- A lost connection's pool generation goes with it (the kit's discard()).

The reads and writes are held inside the server by a lock another session takes, so the
connection dies exactly while they wait: no timing is guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.conftest import ServerUrls
from tests.kit.conftest import (
    Served,
    app_connections,
    drill_plan,
    invalidations,
    judged,
    own_settings,
    terminate,
    terminate_app_connections,
)
from travel_recharge.cluster.drill.devices import Device
from travel_recharge.cluster.drill.log import Answer, DrillLog, Operation
from travel_recharge.cluster.waiting import wait_until_async
from travel_recharge.kit.db import Database
from travel_recharge.kit.db_connections import discard
from travel_recharge.kit.db_failures import connection_lost
from travel_recharge.kit.scratch import libpq_url

PATIENCE_S = 60.0  # how long a test waits for the server to reach a state: never a verdict


@asynccontextmanager
async def cards_locked(database_url: str) -> AsyncIterator[None]:
    """Every statement on the cards table waits inside the server during the block."""
    blocker = await asyncpg.connect(libpq_url(database_url))
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE cards IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await blocker.close()


async def waiting_on_the_lock(served: Served, work: asyncio.Task[object]) -> bool:
    assert not work.done(), f"finished instead of waiting: {work.result()!r}"
    return bool(await app_connections(served.database_url, waiting_on_a_lock=True))


def test_no_request_meets_a_pooled_connection_its_server_closed(served: Served) -> None:
    plan = asyncio.run(drill_plan(served, 1, 1))
    (tapped,), (recharged,) = plan.cards.tap_cards, plan.cards.recharge_cards
    log = DrillLog()
    with Device(plan, log) as device:
        # The service answers once, so the app holds a connection to end.
        assert device.read(f"/api/v1/cards/{tapped}/ledger?limit=5").status == 200
        for _ in range(3):
            assert asyncio.run(terminate_app_connections(served.database_url)) >= 1
            assert device.read(f"/api/v1/cards/{tapped}/ledger?limit=5").status == 200
            for operation in (device.tap(tapped), device.recharge(recharged, 1_000)):
                assert [a.answer.status for a in operation.attempts] == [201], operation
    judged(served, log, plan.cards)


async def test_a_read_whose_connection_dies_in_the_server_runs_again_on_a_fresh_one(
    served: Served,
) -> None:
    plan = await drill_plan(served, 1, 0)
    log = DrillLog()
    device = Device(plan, log)
    path = f"/api/v1/cards/{plan.cards.tap_cards[0]}/ledger?limit=5"  # never cached
    try:
        with invalidations(served) as discarded:
            async with cards_locked(served.database_url):
                read: asyncio.Task[Answer] = asyncio.create_task(
                    asyncio.to_thread(device.read, path)
                )
                await wait_until_async(
                    "the read waits", PATIENCE_S, lambda: waiting_on_the_lock(served, read)
                )
                killed = await terminate_app_connections(
                    served.database_url, waiting_on_a_lock=True
                )
                assert killed == 1
                # The same read, again, on a fresh connection: it waits for the lock too.
                await wait_until_async(
                    "the retry waits", PATIENCE_S, lambda: waiting_on_the_lock(served, read)
                )
            answer = await read
    finally:
        device.close()

    assert answer.status == 200, answer
    assert discarded, "the dead connection was not invalidated"
    assert [a.status for a in log.answers if a.path == path] == [200]


async def test_a_tap_whose_connection_dies_in_the_server_is_503_and_its_retry_applies_once(
    served: Served,
) -> None:
    plan = await drill_plan(served, 1, 0)
    log = DrillLog()
    device = Device(plan, log)
    try:
        async with cards_locked(served.database_url):
            tap: asyncio.Task[Operation] = asyncio.create_task(
                asyncio.to_thread(device.tap, plan.cards.tap_cards[0])
            )
            await wait_until_async(
                "the tap waits", PATIENCE_S, lambda: waiting_on_the_lock(served, tap)
            )
            assert await terminate_app_connections(served.database_url, waiting_on_a_lock=True)

            async def retried_and_waiting() -> bool:
                attempts = log.operations[-1].attempts
                return bool(attempts) and await waiting_on_the_lock(served, tap)

            await wait_until_async(
                "told 503, the device retries and waits", PATIENCE_S, retried_and_waiting
            )
        operation = await tap
    finally:
        device.close()

    first, *_, last = operation.attempts
    assert (first.answer.status, first.answer.error) == (503, "database_unavailable")
    assert first.answer.retry_after == str(served.settings.db_unavailable_retry_after_s)
    assert last.answer.status == 201
    assert len(operation.keys) == 1
    await asyncio.to_thread(judged, served, log, plan.cards)


async def test_a_lost_connection_takes_the_pool_connections_older_than_it_along(
    test_servers: ServerUrls, own_database: str, own_namespace: str
) -> None:
    """discard() (the tap path's disconnect handling) recycles every pooled connection
    opened before the lost one, as SQLAlchemy does for a disconnect it sees itself: they
    reached the same server, which is presumed gone (restarted, or no longer primary)."""
    database = Database.from_settings(own_settings(test_servers, own_database, own_namespace))
    engine = database.primary
    try:
        before = await _pids_of_pooled(engine, 3)
        async with engine.connect() as connection:
            lost_pid = await _backend_pid(connection)
            await terminate(own_database, [lost_pid])  # this one only: the others live on
            driver = (await connection.get_raw_connection()).driver_connection
            # Closed, or its goodbye not yet read: either is a lost connection.
            gone = (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresError)
            with pytest.raises(gone) as failure:
                await driver.execute("SELECT 1")
            assert connection_lost(failure.value)
            await discard(connection, failure.value)
        after = await _pids_of_pooled(engine, 3)
    finally:
        await database.dispose()
    assert lost_pid in before
    # Alive, yet never handed out again: they belonged to the lost one's generation.
    assert not before & after, "connections of the lost generation were handed out again"


async def _pids_of_pooled(engine: AsyncEngine, count: int) -> set[int]:
    """The server pids of `count` connections checked out together, then returned."""
    async with AsyncExitStack() as held:
        connections = [await held.enter_async_context(engine.connect()) for _ in range(count)]
        return {await _backend_pid(connection) for connection in connections}


async def _backend_pid(connection: AsyncConnection) -> int:
    return int((await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())
