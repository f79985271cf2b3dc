"""The read path when the replica does not answer: reads go to the primary, the replica
is left alone for a while, and reads come back to it once it answers; health reports the
role of each server, the replica's reachability and its lag.

A real streaming replica (pg_basebackup of this suite's own server, tests/kit/conftest.py),
stopped and started; and a replica address that accepts connections but never answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ServerUrls
from tests.faults.postgres import SITE_HOST, LocalPostgres
from tests.faults.silent import silent_server
from tests.kit.conftest import DATABASE_NAME, Served, own_settings, serve
from travel_recharge.cluster.waiting import wait_until_async
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database
from travel_recharge.ops.database_health import check_database, parse_lsn

DOWN_S = 0.5  # how long reads stay on the primary after the replica failed (short, for tests)
PATIENCE_S = 60.0  # how long a test waits for the servers to reach a state: never a verdict


@pytest.fixture(scope="module")
def own_replica(own_postgres: LocalPostgres, own_database: str) -> Iterator[LocalPostgres]:
    replica = LocalPostgres.replica_of(own_postgres, own_postgres.data_dir.parent)
    try:
        replica.start()
        yield replica
    finally:
        replica.remove()


@pytest.fixture(scope="module")
def replica_settings(
    test_servers: ServerUrls, own_database: str, own_namespace: str, own_replica: LocalPostgres
) -> Settings:
    return own_settings(
        test_servers,
        own_database,
        own_namespace,
        database_replica_url=own_replica.url(DATABASE_NAME),
        db_replica_down_s=DOWN_S,
    )


@pytest.fixture(scope="module")
def served_with_replica(replica_settings: Settings) -> Iterator[Served]:
    with serve(replica_settings, "replica-reading server") as served:
        yield served


@asynccontextmanager
async def engines(settings: Settings) -> AsyncIterator[Database]:
    """The kit's engines on this test's event loop, to ask which server a read reaches."""
    database = Database.from_settings(settings)
    try:
        yield database
    finally:
        await database.dispose()


async def read_reaches_replica(database: Database) -> bool:
    async with database.read_sessions() as session:
        return bool(await session.scalar(text("SELECT pg_is_in_recovery()")))


async def health_of(served: Served) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as client:
        response = await client.get("/api/v1/health/db")
    assert response.status_code == 200, response.text  # the primary answers: HAProxy's 200
    body: dict[str, Any] = response.json()
    return body


async def a_replica_read_answers(served: Served) -> None:
    """GET /api/v1/admin/ledger/verify runs on the read (replica) session."""
    async with httpx.AsyncClient(
        base_url=served.base_url, headers=served.headers, timeout=10
    ) as client:
        response = await client.get("/api/v1/admin/ledger/verify")
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True


def test_parse_lsn_reads_postgresql_wal_positions() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert parse_lsn(None) is None


async def test_health_reports_each_role_and_the_replica_catching_up(
    served_with_replica: Served,
) -> None:
    health = await health_of(served_with_replica)
    assert (health["status"], health["role"]) == ("ok", "primary")
    assert health["replica"]["status"] == "ok"
    assert health["replica"]["role"] == "replica"
    assert health["replica"]["reads_on_primary"] is False

    async def caught_up() -> bool:
        replica = (await health_of(served_with_replica))["replica"]
        return bool(replica["lag_bytes"] == 0 and replica["lag_s"] == 0.0)

    await wait_until_async(
        "the replica has replayed everything the primary wrote", PATIENCE_S, caught_up
    )


async def test_reads_fall_back_to_the_primary_while_the_replica_is_down_and_come_back(
    replica_settings: Settings, served_with_replica: Served, own_replica: LocalPostgres
) -> None:
    async with engines(replica_settings) as database:
        assert await read_reaches_replica(database) is True
        await asyncio.to_thread(own_replica.stop)
        try:
            # The kit: the read session lands on the primary, and remembers why.
            assert await read_reaches_replica(database) is False
            assert database.read_sessions.replica_down is True
            # The service: replica reads still answer, health says where they go.
            await a_replica_read_answers(served_with_replica)
            health = await health_of(served_with_replica)
            assert (health["status"], health["role"]) == ("ok", "primary")
            assert health["replica"]["status"] == "down"
            assert health["replica"]["detail"] == "ConnectionRefusedError"
            assert health["replica"]["reads_on_primary"] is True
            assert health["replica"]["lag_bytes"] is None
        finally:
            await asyncio.to_thread(own_replica.start)

        # Back on the replica once it answers (after DOWN_S, at the next read's probe).
        async def on_replica() -> bool:
            return await read_reaches_replica(database)

        await wait_until_async("reads reach the replica again", PATIENCE_S, on_replica)
        assert database.read_sessions.replica_down is False

        async def served_from_replica() -> bool:
            await a_replica_read_answers(served_with_replica)
            replica = (await health_of(served_with_replica))["replica"]
            return bool(replica["status"] == "ok" and not replica["reads_on_primary"])

        await wait_until_async(
            "the service reads from the replica again", PATIENCE_S, served_from_replica
        )


async def test_a_replica_that_never_answers_costs_one_connect_timeout(
    test_servers: ServerUrls, own_database: str, own_namespace: str
) -> None:
    """A replica address that accepts the TCP connection and says nothing (a hung server,
    a black hole): the read waits the replica's connect timeout once, then the primary
    takes the reads without asking the replica again for a while."""
    with silent_server(SITE_HOST) as silent:
        settings = own_settings(
            test_servers,
            own_database,
            own_namespace,
            database_replica_url=f"postgresql://postgres@{silent.host}:{silent.port}/tr",
            db_replica_connect_timeout_s=0.3,
            db_replica_down_s=60,
        )
        async with engines(settings) as database:
            assert await read_reaches_replica(database) is False
            assert database.read_sessions.replica_down is True
            tried = silent.accepted
            assert tried >= 1
            # Remembered: the next reads go straight to the primary, asking nobody else.
            assert [await read_reaches_replica(database) for _ in range(3)] == [False] * 3
            assert silent.accepted == tried

            health = await check_database(database, timeout_s=2.0)
            assert (health.status, health.role) == ("ok", "primary")
            assert health.replica is not None
            assert (health.replica.status, health.replica.detail) == ("down", "timed out")
            assert health.replica.reads_on_primary is True
