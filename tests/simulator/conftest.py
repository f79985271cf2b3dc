"""A real server on a socket for the simulator to drive, and riders for it to simulate.

The simulator sends its traffic over HTTP to the service's own URL, so its tests need a
server that listens: a uvicorn server in a thread of this process (as the fuzz test does),
with the session's database and cache namespace and the default rate limits, so a run is
limited like production and must not be refused by its own limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.conftest import Network, ServerUrls, bearer, make_settings
from tests.money import new_card, recharge
from tests.threaded_server import threaded_server
from travel_recharge.app import create_app
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role

# Not the ids other tests' tokens carry: the rate limits count per account id.
OPERATOR_ACCOUNT_ID = 9_001
FUNDED_CARDS = 30
FUNDED_BALANCE = 20_000
EMPTY_CARDS = 4  # these ride on credit, are refused, and get recharged


@dataclass(frozen=True)
class LiveServer:
    app: FastAPI
    url: str
    operator: dict[str, str]


@pytest.fixture(scope="package")
def live_server(test_servers: ServerUrls) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(test_servers, self_url=url, rate_limits={})
    app = create_app(settings)
    with threaded_server(app, port, "simulator's server"):
        yield LiveServer(app, url, bearer(app, Role.operator, account_id=OPERATOR_ACCOUNT_ID))


@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server, as an operator."""
    async with httpx.AsyncClient(
        base_url=live_server.url, headers=live_server.operator, timeout=30
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
    """Cards to ride (most funded, a few empty) and bus routes with stops to board.

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
