"""Real PostgreSQL and Redis for the whole suite.

TR_TEST_DATABASE_URL / TR_TEST_REDIS_URL (CI) point at external servers; otherwise the
embedded ones are started once for the session. Each session gets a fresh database built by
the migrations and its own cache namespace, and removes both at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from travel_recharge.app import create_app
from travel_recharge.finance.service import verify_ledger
from travel_recharge.kit.clock import Clock, utc_now
from travel_recharge.kit.config import Settings
from travel_recharge.kit.embedded import start_embedded
from travel_recharge.kit.scratch import admin_execute, with_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.security.keys import new_signing_key
from travel_recharge.security.rate_limit import unreachable_limits
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner

# Every app of the session signs with this key, so a token is good at all of them.
TEST_SIGNING_KEY = new_signing_key()
# Limits the suite never reaches, so the limiter runs (its Redis script included) on every
# request without refusing any; tests of the limits themselves configure small ones.
UNREACHABLE_LIMITS = unreachable_limits()
# A call that must give up by the product's own timeouts (a dead or frozen Redis, a database
# that does not answer: all well under 2 s) and is still unanswered after this long hangs.
# Tests use it only to tell a hang from an answer, never to judge speed: it is far above
# anything a loaded 2-core machine adds.
HANG_S = 15.0


@dataclass(frozen=True)
class ServerUrls:
    server_database_url: str  # any database on the server, used to create ours
    database_url: str  # this session's fresh database
    redis_url: str
    namespace: str


@pytest.fixture(scope="session")
def test_servers() -> Iterator[ServerUrls]:
    database_url = os.environ.get("TR_TEST_DATABASE_URL")
    redis_url = os.environ.get("TR_TEST_REDIS_URL")
    embedded = None
    # Not under pytest's temporary root: every pytest session started on the machine makes
    # it 0700 again, cutting the embedded PostgreSQL (its own account) off from its files.
    embedded_dir = Path(tempfile.mkdtemp(prefix="tr-embedded-", dir="/tmp"))
    if not (database_url and redis_url):
        embedded = start_embedded(embedded_dir)
        database_url = database_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
    suffix = uuid.uuid4().hex[:10]
    name = f"tr_test_{suffix}"
    asyncio.run(admin_execute(database_url, f'CREATE DATABASE "{name}"'))
    servers = ServerUrls(
        server_database_url=database_url,
        database_url=with_database(database_url, name),
        redis_url=redis_url,
        namespace=f"trtest{suffix}",
    )
    try:
        upgrade_to_head(servers.database_url)
        yield servers
    finally:
        asyncio.run(admin_execute(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        # This session's namespace and those tests derive from it (`{namespace}rl…`, a
        # debt test's, the web service's), with their rate limiter's sorted sets, which have
        # no TTL (they must never be evicted), and the traffic simulator's run records.
        for owned in ("", "rl:", "sim:"):
            asyncio.run(drop_keys(redis_url, f"{owned}{servers.namespace}*"))
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(embedded_dir, ignore_errors=True)


async def drop_namespace(redis_url: str, namespace: str) -> None:
    await drop_keys(redis_url, f"{namespace}:*")


async def drop_keys(redis_url: str, match: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        async for key in redis.scan_iter(match=match, count=500):
            await redis.delete(key)
    finally:
        await redis.aclose()


def make_settings(servers: ServerUrls, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": servers.database_url,
        "redis_url": servers.redis_url,
        "cache_namespace": servers.namespace,
        "db_pool_size": 5,
        # Tests fold rollup deltas explicitly (analytics.folder.fold_deltas), so the figures
        # they check do not depend on the background loop's timing.
        "rollup_fold_interval_s": 0,
        # The same for the database figures behind the alert rules (ops.probes).
        "metrics_probe_interval_s": 0,
        # And the revenue forecast's refit and the trip flows' count: tests run those jobs
        # themselves.
        "forecast_check_interval_s": 0,
        "flows_check_interval_s": 0,
        # And the revoked tokens' load (tests load them by hand, or start the loop).
        "revocation_refresh_s": 0,
        # And the web recharges' expiry sweep (tests sweep by hand, at the time they choose).
        "web_recharge_sweep_s": 0,
        "auth_signing_key": TEST_SIGNING_KEY,
        "rate_limits": UNREACHABLE_LIMITS,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def settings(test_servers: ServerUrls) -> Settings:
    return make_settings(test_servers)


# The account bearer()'s tokens name unless told otherwise. Trips, recharges and ledger
# entries record the account that made them (a foreign key), so `clean` keeps a row for it:
# inactive, with no usable secret, so nobody can sign in as it.
TEST_ACCOUNT_ID = 1
TEST_ACCOUNT_LOGIN = "test-admin"


def bearer(
    app: FastAPI,
    role: Role,
    *,
    user_id: int | None = None,
    account_id: int = TEST_ACCOUNT_ID,
    validator_id: str | None = None,
    recharge_point_id: int | None = None,
) -> dict[str, str]:
    """An Authorization header with a token the app accepts, signed with its own key."""
    signer: TokenSigner = app.state.token_signer
    principal = Principal(
        account_id, f"test-{role}", role, user_id, validator_id, recharge_point_id
    )
    return {"Authorization": f"Bearer {signer.issue(principal, datetime.now(UTC)).token}"}


def caller_headers(app: FastAPI, role: Role | None) -> dict[str, str] | None:
    """The headers of a caller in `role` (None: anonymous); a rider is rider 1."""
    return None if role is None else bearer(app, role, user_id=1 if role is Role.rider else None)


# The dashboards' figures: who may watch them, and what everyone else is answered.
WATCHING = [
    (Role.analyst, 200),
    (Role.operator, 200),
    (Role.admin, 200),
    (Role.rider, 403),
    (Role.validator, 403),
    (Role.recharge_point, 403),
    (None, 401),
]


def client_for(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An in-process client sending `headers` (none: an anonymous caller)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def watched_answer(app: FastAPI, url: str, params: dict[str, str] | None = None) -> Any:
    """A dashboard figure as an analyst reads it, after checking that every role in WATCHING
    gets its status and that an operator reads the same answer."""
    answers: dict[Role | None, Any] = {}
    for role, status in WATCHING:
        async with client_for(app, caller_headers(app, role)) as caller:
            response = await caller.get(url, params=params)
        assert response.status_code == status, (role, response.text)
        answers[role] = response.json()
    assert answers[Role.operator] == answers[Role.analyst]
    return answers[Role.analyst]


async def start_app(
    settings: Settings, clock: Clock = utc_now
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running, and an in-process client for it acting as an
    admin (who may call everything); tests of access rules make their own clients. `clock`:
    the time of day its views are computed at (kit.clock), the real one unless pinned."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app), client_for(app, bearer(app, Role.admin)) as client:
        yield app, client


@pytest.fixture(scope="session")
async def app_and_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in start_app(settings):
        yield pair


@pytest.fixture
def app(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return app_and_client[0]


@pytest.fixture
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    app, client = app_and_client
    # The session outlives a token (auth_token_ttl_s, 15 min) when the machine is loaded:
    # each test gets the session's client with an admin token minted for it.
    client.headers.update(bearer(app, Role.admin))
    return client


@pytest.fixture
def offline_window(app: FastAPI) -> Iterator[Callable[[timedelta], None]]:
    """Set how old a tap may be (TR_TAP_OFFLINE_WINDOW_S) for this test only: scenarios on
    fixed past dates, and the window's own tests. (Not monkeypatch: app.state keeps its
    attributes in a dict of its own, which monkeypatch would not restore.)"""
    original = app.state.settings

    def set_window(window: timedelta) -> None:
        update = {"tap_offline_window_s": int(window.total_seconds())}
        app.state.settings = original.model_copy(update=update)

    yield set_window
    app.state.settings = original


@pytest.fixture
def wide_offline_window(offline_window: Callable[[timedelta], None]) -> None:
    """Taps years old are accepted in this test (scenarios on fixed past dates)."""
    offline_window(timedelta(days=20 * 365))


# Tables whose rows tests create; fare_policies is reference data from the migrations.
MUTABLE_TABLES = (
    "ledger_entries, idempotency_records, trips, recharges, cards, users, alerts, route_stops, "
    "routes, stations, recharge_points, localities, rollup_deltas, rollup_totals, rollup_hours, "
    "rollup_station_days, deny_list_changes, token_revocations, adjustments, web_recharges, "
    "offline_risks, repricings"
)
# The user counters, which TRUNCATE (firing no row triggers) does not reset.
USER_COUNTERS = ("total_users", "active_users", "simulated_users", "simulated_active_users")


async def _tables_with_rows(app: FastAPI) -> list[str]:
    """The mutable tables (and user counters) that are not empty, in one round trip."""
    tables = MUTABLE_TABLES.split(", ")
    probes = [f"EXISTS (SELECT FROM {table})" for table in tables]
    probes.append(f"EXISTS (SELECT FROM rollup_users WHERE {' + '.join(USER_COUNTERS)} <> 0)")
    async with app.state.database.primary.connect() as connection:
        row = (await connection.exec_driver_sql(f"SELECT {', '.join(probes)}")).one()
    return [name for name, found in zip([*tables, "rollup_users"], row, strict=True) if found]


async def _empty_tables(app: FastAPI) -> None:
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(f"TRUNCATE {MUTABLE_TABLES} CASCADE")
        # (CASCADE empties accounts too: they refer to users and recharge points.)
        zeros = ", ".join(f"{counter} = 0" for counter in USER_COUNTERS)
        await connection.exec_driver_sql(f"UPDATE rollup_users SET {zeros}")  # noqa: S608


@pytest.fixture
async def clean(
    app: FastAPI, test_servers: ServerUrls, request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    """Each money-path test starts from empty tables and an empty cache namespace, whatever
    ran before it (in any order), and must leave a ledger that verifies (unless it tampers
    on purpose: ledger_tampered). It empties both after itself too, for the tests after it."""
    left = await _tables_with_rows(app)
    if left:
        # A test that wrote without `clean` (DESIGN: never shared leftovers): empty them
        # anyway, and say so, so the test that left them can be found and fixed.
        warnings.warn(f"rows left by an earlier test in {left}", stacklevel=1)
        await _empty_tables(app)
    await drop_namespace(test_servers.redis_url, test_servers.namespace)
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO accounts (id, login, kind, role, secret_hash, active)"
            " VALUES ($1, $2, 'person', 'admin', '!', false) ON CONFLICT DO NOTHING",
            (TEST_ACCOUNT_ID, TEST_ACCOUNT_LOGIN),
        )
        # Accounts made by the test take ids after it.
        await connection.exec_driver_sql(
            "SELECT setval('accounts_id_seq', greatest(last_value, 1)) FROM accounts_id_seq"
        )
    yield
    if request.node.get_closest_marker("ledger_tampered") is None:
        async with app.state.database.read_sessions() as session:
            report = await verify_ledger(session)
        assert report.mismatches == [], "the ledger does not verify after this test"
    await _empty_tables(app)
    await drop_namespace(test_servers.redis_url, test_servers.namespace)


@dataclass(frozen=True)
class Network:
    """A tiny network: two trunk stations, a zonal stop, routes of each kind, recharge points."""

    trunk_station: int
    other_trunk_station: int
    zonal_stop: int
    trunk_route: str
    zonal_route: str
    other_zonal_route: str
    feeder_route: str
    counter: int
    web_point: int


@pytest.fixture
async def network(app: FastAPI, clean: None) -> Network:
    statements = [
        "INSERT INTO localities (code, name) VALUES ('02', 'Chapinero'), ('11', 'Suba')",
        "INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude, longitude)"
        " VALUES (1, '02000', 'Portal Norte', 'portal', 'B', '11', 4.754, -74.046),"
        " (2, '01014', 'Calle 72', 'trunk', 'A', '02', 4.658, -74.063),"
        " (3, '20001', 'Cl 72 - Kr 11', 'zonal', NULL, '02', 4.657, -74.058)",
        "INSERT INTO routes (id, code, name, kind, headways) VALUES"
        " (1, 'B74', 'Portal Norte - Calle 72', 'trunk', '{\"peak_am\": 4}'),"
        " (2, '18-3', 'Suba - Chapinero', 'zonal', '{\"peak_am\": 8}'),"
        " (3, 'C17', 'Usaquén - Centro', 'zonal', '{\"peak_am\": 10}'),"
        " (4, '16-1', 'Alimentador Portal Norte', 'feeder', '{\"peak_am\": 6}')",
        "INSERT INTO recharge_points (id, name, locality_code, channel) VALUES"
        " (1, 'Taquilla Portal Norte', '11', 'counter'), (2, 'Recarga web', NULL, 'web')",
        # Explicit ids, as the network loader gives them; later rows continue after them.
        "SELECT setval('recharge_points_id_seq', 2)",
    ]
    async with app.state.database.primary.begin() as connection:
        for statement in statements:
            await connection.exec_driver_sql(statement)
    return Network(1, 2, 3, "B74", "18-3", "C17", "16-1", 1, 2)


async def count_rows(app: FastAPI, table: str) -> int:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")  # noqa: S608
        return int(result.scalar_one())


async def ledger_ok(client: httpx.AsyncClient) -> None:
    """The stored balance of every card equals its ledger sum."""
    report = (await client.get("/api/v1/admin/ledger/verify")).json()
    assert report["mismatches"] == []
    assert report["ok"] is True
