"""A real server on a socket for the simulator to drive, and real riders it must not touch.

The simulator sends its traffic over HTTP to the service's own URL, so its tests need a
server that listens: a uvicorn server in a thread of this process (as the fuzz test does),
with the session's database and cache namespace and the default rate limits, so a run is
limited like production and must not be refused by its own limits. A run lasts only while
the account that started it is active, so its operators are real accounts.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.conftest import Network, ServerUrls, bearer, make_settings
from tests.money import new_card, recharge
from tests.threaded_server import threaded_server
from travel_recharge.app import create_app
from travel_recharge.fares import service as fares
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role
from travel_recharge.simulator import world
from travel_recharge.simulator.choices import FareFacts

# Not the ids other tests' tokens carry: the rate limits count per account id.
OPERATOR_ACCOUNT_ID = 9_001
# The simulator's own riders in these tests (made at a run's first start after `clean`).
SIMULATED_RIDERS = 40
# Real riders: the simulator must never touch them.
FUNDED_CARDS = 30
FUNDED_BALANCE = 20_000
EMPTY_CARDS = 4

STATUS, START, STOP = "/api/v1/simulator", "/api/v1/simulator/start", "/api/v1/simulator/stop"
# How long a test waits for a run to reach a state or a count: far more than a loaded
# machine needs, since a passing test never waits it out (it stops at the state).
RUN_DEADLINE_S = 60.0


async def wait_for_status(
    client: httpx.AsyncClient, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The run's status once `done` holds of it, or the last one seen at the deadline (the
    caller's assertion on it then says what was missing)."""
    deadline = time.monotonic() + RUN_DEADLINE_S
    while True:
        status: dict[str, Any] = (await client.get(STATUS)).json()
        if done(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


async def until_it_has_charged_taps(client: httpx.AsyncClient, taps: int = 1) -> dict[str, Any]:
    """The status once the running run has charged at least `taps` taps."""
    status = await wait_for_status(client, lambda s: s["counters"]["taps_charged"] >= taps)
    assert status["counters"]["taps_charged"] >= taps, status
    assert status["state"] == "running", status
    return status


@dataclass(frozen=True)
class LiveServer:
    app: FastAPI
    url: str

    @property
    def operator(self) -> dict[str, str]:
        """An operator token, minted now, for calls that need no active account (status,
        stop): the server may outlive a token (15 min) on a loaded machine."""
        return bearer(self.app, Role.operator, account_id=OPERATOR_ACCOUNT_ID)


async def real_account(app: FastAPI, role: Role) -> tuple[int, str]:
    """An active account of `role` in the accounts table (nobody can sign in as it); its id
    and login. Made per test: `clean` empties the accounts too (they refer to users)."""
    login = f"sim-test-{role.value.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    async with app.state.database.primary.begin() as connection:
        result = await connection.exec_driver_sql(
            "INSERT INTO accounts (login, kind, role, secret_hash) VALUES ($1, 'person', $2, 'x')"
            " RETURNING id",
            (login, role.value),
        )
        return int(result.scalar_one()), login


async def real_cards_state(app: FastAPI) -> list[tuple[Any, ...]]:
    """Every real card's money and what refers to it: what no simulated rider may change."""
    async with app.state.database.primary.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT c.id, c.balance, c.credit_trips_in_use, c.status, c.last_used_at,"
            " (SELECT count(*) FROM trips t WHERE t.card_id = c.id),"
            " (SELECT count(*) FROM recharges r WHERE r.card_id = c.id),"
            " (SELECT count(*) FROM ledger_entries e WHERE e.card_id = c.id),"
            " (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e WHERE e.card_id = c.id)"
            " FROM cards c WHERE NOT c.simulated ORDER BY c.id"
        )
        return [tuple(row) for row in rows]


@dataclass(frozen=True)
class Simulated:
    cards: list[int]  # funded once each, at one of `points`
    points: list[int]
    riders: list[int]  # owners of the personalized ones


async def make_simulated(app: FastAPI, riders: int) -> Simulated:
    """The simulator's own riders and points of sale, made as a start makes them."""
    now = datetime.now(UTC)
    async with app.state.database.read_sessions() as session:
        policy = (await fares.policy_at(session, now)).policy
    facts = FareFacts(
        transfer_window_s=policy.transfer_window.total_seconds(),
        double_tap_window_s=60.0,
        recharge_min=policy.recharge_min,
        recharge_max=policy.recharge_max,
        max_balance=policy.max_balance,
    )
    own = await world.provision(
        app.state.database, app.state.cache, riders, random.Random(7), facts, now, account_id=None
    )
    async with app.state.database.primary.connect() as connection:
        owners = await connection.exec_driver_sql("SELECT id FROM users WHERE simulated")
        return Simulated([c.card_id for c in own.cards], own.points, [r.id for r in owners])


@pytest.fixture(scope="package")
def live_server(test_servers: ServerUrls) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        test_servers, self_url=url, rate_limits={}, simulator_riders=SIMULATED_RIDERS
    )
    app = create_app(settings)
    with threaded_server(app, port, "simulator's server"):
        yield LiveServer(app, url)


@dataclass(frozen=True)
class Operator:
    account_id: int
    login: str
    headers: dict[str, str]


@pytest.fixture
async def live_operator(app: FastAPI, live_server: LiveServer) -> Operator:
    """A real, active operator account and a token of it (a run needs one)."""
    account_id, login = await real_account(app, Role.operator)
    return Operator(
        account_id, login, bearer(live_server.app, Role.operator, account_id=account_id)
    )


@pytest.fixture
async def live(
    live_server: LiveServer, live_operator: Operator
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server, as a real operator."""
    async with httpx.AsyncClient(
        base_url=live_server.url, headers=live_operator.headers, timeout=30
    ) as client:
        yield client


@dataclass(frozen=True)
class Riders:
    funded: list[int]
    empty: list[int]


async def drop_simulator_keys(redis_url: str, namespace: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        async for key in redis.scan_iter(match=f"sim:{namespace}:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


@pytest.fixture
async def riders(
    app: FastAPI,
    client: httpx.AsyncClient,
    network: Network,
    live_server: LiveServer,
    test_servers: ServerUrls,
) -> AsyncIterator[Riders]:
    """Real cards (most funded, a few empty) and bus routes with stops to board.

    Ends any run the test left going before `clean` empties the tables under it."""
    route_stops = (
        "INSERT INTO route_stops (route_id, sequence, station_id, minutes_from_start) VALUES"
        " (2, 1, 3, 0), (2, 2, 2, 6), (3, 1, 3, 0), (4, 1, 1, 0), (4, 2, 3, 5)"
    )
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(route_stops)
    # Transfers are for personalized cards only (the policy's rule): most riders have one.
    funded = [await new_card(client, "personalized") for _ in range(FUNDED_CARDS - 5)]
    funded += [await new_card(client) for _ in range(5)]
    for card in funded:
        answer = await recharge(client, card, FUNDED_BALANCE, point=network.counter)
        assert answer.status_code == 201, answer.text
    empty = [await new_card(client) for _ in range(EMPTY_CARDS)]
    yield Riders(funded, empty)
    async with httpx.AsyncClient(base_url=live_server.url, headers=live_server.operator) as live:
        stopped = await live.post("/api/v1/simulator/stop", timeout=30)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["state"] == "stopped", stopped.text
    await drop_simulator_keys(test_servers.redis_url, test_servers.namespace)
