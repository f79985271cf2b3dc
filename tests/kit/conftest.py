"""A PostgreSQL server of the database-failure tests' own, its database, and the app served
over a socket against it (the shared servers of tests/conftest.py are never disturbed);
the drills those tests run on it (cluster.drill) and the checker's verdict (cluster.checker),
the same as the cluster's fault tests use. And a redis-server of a test's own
(private_redis), whose commands can be counted and which can be killed."""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import ServerUrls, bearer, drop_keys, drop_namespace, make_settings
from tests.faults.postgres import LocalPostgres, available, scratch_root
from tests.kit.redis_sentinels import REDIS_SERVER, Server
from tests.threaded_server import threaded_server
from travel_recharge.app import create_app
from travel_recharge.cluster.checker import Verdict, check_answers, check_drill
from travel_recharge.cluster.drill.cards import DrillCards, DrillPlan, prepare_drill
from travel_recharge.cluster.drill.log import DrillLog
from travel_recharge.kit.config import Settings
from travel_recharge.kit.embedded import free_port
from travel_recharge.kit.scratch import admin_execute, libpq_url, with_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.security.roles import Role

DATABASE_NAME = "travel_recharge"


@dataclass(frozen=True)
class Served:
    """The app served over a socket, and how to read through it as an administrator
    (drills write with their plan's tokens, which name the drill's account)."""

    app: FastAPI
    base_url: str
    settings: Settings

    @property
    def headers(self) -> dict[str, str]:
        """An administrator's token, minted now: the server may outlive one (15 min)."""
        return bearer(self.app, Role.admin)

    @property
    def database_url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL 15 server on 127.20.1.1 that tests may restart, stop and start."""
    if not available():
        pytest.skip("needs Debian's postgresql-15 binaries (and its postgres account as root)")
    root = scratch_root()
    server = LocalPostgres.create(root)
    try:
        server.start()
        yield server
    finally:
        server.remove()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def own_database(own_postgres: LocalPostgres) -> str:
    """A migrated database; each drill makes the cards, station and counter it uses."""
    asyncio.run(admin_execute(own_postgres.url(), f'CREATE DATABASE "{DATABASE_NAME}"'))
    url = with_database(own_postgres.url(), DATABASE_NAME)
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def own_namespace(test_servers: ServerUrls) -> Iterator[str]:
    """A cache namespace apart from the suite's: card ids of this database repeat theirs."""
    namespace = f"{test_servers.namespace}dbf"
    yield namespace
    asyncio.run(drop_namespace(test_servers.redis_url, namespace))
    asyncio.run(drop_keys(test_servers.redis_url, f"rl:{namespace}*"))


def own_settings(
    test_servers: ServerUrls, database_url: str, namespace: str, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "cache_namespace": namespace,
        "db_pool_size": 5,
        "db_max_overflow": 5,
        "db_pool_timeout_s": 2.0,
        # Each logical tap of the load has its own validator; a bad retry (a new tap_id)
        # must reach the checker, not be absorbed by the double-tap rule.
        "double_tap_window_s": 0,
    }
    values.update(overrides)
    return make_settings(test_servers, **values)


@contextmanager
def serve(settings: Settings, name: str) -> Iterator[Served]:
    """The app with `settings` served by uvicorn on a free port of 127.0.0.1."""
    app = create_app(settings)
    port = free_port()
    with threaded_server(app, port, name):
        yield Served(app, f"http://127.0.0.1:{port}", settings)


@pytest.fixture(scope="session")
def served(test_servers: ServerUrls, own_database: str, own_namespace: str) -> Iterator[Served]:
    with serve(own_settings(test_servers, own_database, own_namespace), "fault server") as app:
        yield app


@contextmanager
def invalidations(served: Served) -> Iterator[list[str]]:
    """The kinds of failure for which the app's primary pool invalidated a connection
    inside the block (observed through SQLAlchemy's pool events)."""
    seen: list[str] = []
    pool = served.app.state.database.primary.sync_engine.pool

    def invalidated(_: object, __: object, exception: BaseException | None) -> None:
        seen.append(type(exception).__name__)

    event.listen(pool, "invalidate", invalidated)
    try:
        yield seen
    finally:
        event.remove(pool, "invalidate", invalidated)


async def drill_plan(served: Served, tap_cards: int, recharge_cards: int) -> DrillPlan:
    """A drill on cards of its own, through the served app: two tappers, a point of sale
    and two readers, whose devices wait up to 10 s for an answer."""
    cards = await prepare_drill(served.database_url, tap_cards, recharge_cards)
    plan = DrillPlan.authorized(served.base_url, cards, functools.partial(bearer, served.app))
    return replace(plan, tappers=2, points_of_sale=1, readers=2, request_timeout_s=10.0)


def judged(served: Served, log: DrillLog, cards: DrillCards) -> Verdict:
    """The answers' and the database's verdict on a drill; fails the test on any problem."""
    answers = check_answers(log, served.settings.db_unavailable_retry_after_s)
    assert answers == [], answers
    verdict = asyncio.run(check_drill(served.database_url, log, cards))
    assert verdict.problems == [], verdict.problems
    # Every device got its answer in the end: the database came back.
    unanswered = log.in_doubt()
    assert unanswered == []
    return verdict


async def app_connections(database_url: str, *, waiting_on_a_lock: bool = False) -> list[int]:
    """The server pids of the app's connections (application_name travel-recharge)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'travel-recharge'"
            " AND pid <> pg_backend_pid() AND (NOT $1 OR wait_event_type = 'Lock')",
            waiting_on_a_lock,
        )
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


async def terminate_app_connections(database_url: str, *, waiting_on_a_lock: bool = False) -> int:
    """End the app's connections (as a restart does: 57P01 to each); how many there were."""
    pids = await app_connections(database_url, waiting_on_a_lock=waiting_on_a_lock)
    await terminate(database_url, pids)
    return len(pids)


async def terminate(database_url: str, pids: list[int]) -> None:
    """End these server processes' sessions (pg_terminate_backend)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids
        )
    finally:
        await connection.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Server]:
    server = Server("127.0.0.1", free_port(), tmp_path / "redis")
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server.launch([REDIS_SERVER, "--port", str(server.port), *options])
    try:
        yield server
    finally:
        server.stop()
