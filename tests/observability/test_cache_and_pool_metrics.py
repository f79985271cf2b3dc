"""Cache hits and misses by namespace, the breaker, and database connections (in use, at
most), as exported."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.conftest import Network, ServerUrls, make_settings
from tests.money import new_card
from tests.observability.samples import value
from travel_recharge.kit.cache import Cache, CircuitBreaker
from travel_recharge.kit.db import Database
from travel_recharge.kit.metrics import CACHE_BREAKER_OPEN


def exported(namespace: str) -> tuple[float, float]:
    return (
        value("cache_hits_total", namespace=namespace),
        value("cache_misses_total", namespace=namespace),
    )


def in_use(pool: str = "primary") -> float:
    return value("db_pool_connections_in_use", pool=pool)


async def test_cache_hits_and_misses_move_with_the_cache_stats(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await new_card(client)
    cache: Cache = app.state.cache
    hits, misses = exported("cards")
    stats_hits, stats_misses = cache.stats.hits["cards"], cache.stats.misses["cards"]

    assert (await client.get(f"/api/v1/cards/{card_id}/balance")).status_code == 200
    assert exported("cards") == (hits, misses + 1)
    assert (await client.get(f"/api/v1/cards/{card_id}/balance")).status_code == 200
    assert exported("cards") == (hits + 1, misses + 1)
    # /api/v1/cache/stats and /metrics tell the same story.
    assert cache.stats.hits["cards"] - stats_hits == 1
    assert cache.stats.misses["cards"] - stats_misses == 1


async def test_isolated_cache_blocks_are_not_exported(app: FastAPI) -> None:
    cache: Cache = app.state.cache
    before = exported("scratchcheck")
    with cache.isolated(use_redis=True) as scope:
        assert await cache.get("scratchcheck:nothing") is None
        assert scope.stats.misses["scratchcheck"] == 1
    assert exported("scratchcheck") == before


async def test_connections_in_use_return_to_their_baseline(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    baseline = in_use()
    async with app.state.database.primary.connect() as one:
        await one.exec_driver_sql("SELECT 1")
        async with app.state.database.primary.connect() as two:
            await two.exec_driver_sql("SELECT 1")
            assert in_use() == baseline + 2
        assert in_use() == baseline + 1
    assert in_use() == baseline

    card_id = await new_card(client)
    reads = [client.get(f"/api/v1/cards/{card_id}/balance") for _ in range(20)]
    assert {r.status_code for r in await asyncio.gather(*reads)} == {200}
    assert in_use() == baseline


async def test_pool_capacity_is_published_for_the_saturation_alert(
    test_servers: ServerUrls,
) -> None:
    database = Database.from_settings(
        make_settings(test_servers, db_pool_size=3, db_max_overflow=2)
    )
    try:
        assert value("db_pool_connections_max", pool="primary") == 5
    finally:
        await database.dispose()


def test_the_breaker_reports_only_its_changes() -> None:
    changes: list[bool] = []
    breaker = CircuitBreaker(failures=2, reset_s=5.0, on_change=changes.append)
    breaker.record_success()
    breaker.record_failure()
    assert changes == []
    breaker.record_failure()  # opens
    breaker.record_failure()  # stays open (a failed trial): no news
    assert changes == [True]
    breaker.record_success()
    breaker.record_success()
    assert changes == [True, False]


async def test_an_open_breaker_shows_in_the_gauge(test_servers: ServerUrls) -> None:
    # Nothing listens on port 1: every call fails at once.
    settings = make_settings(
        test_servers, redis_url="redis://127.0.0.1:1/0", redis_breaker_failures=2
    )
    cache = Cache.from_settings(settings)
    # The gauge is the process' and an earlier test's cache may have opened its own breaker
    # (found by a random-order run): start from closed.
    CACHE_BREAKER_OPEN.set(0)
    try:
        assert value("cache_breaker_open") == 0
        assert await cache.get("cards:1") is None
        assert value("cache_breaker_open") == 0
        assert await cache.get("cards:1") is None
        assert value("cache_breaker_open") == 1
    finally:
        await cache.close()
        # The gauge is the process'; the session's own cache, which is healthy, shares it.
        CACHE_BREAKER_OPEN.set(0)
