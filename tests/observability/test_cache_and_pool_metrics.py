"""Cache hits and misses by namespace, and database connections in use, as exported."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.conftest import Network
from tests.money import new_card
from tests.observability.samples import value
from travel_recharge.kit.cache import Cache


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
