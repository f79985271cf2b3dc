"""Network test fixtures: the whole reference network once per module, a tiny timetable per test.

The reference network is loaded once per module (with COPY, well under a second) rather than
per test; tests of such a module only read it, or remove what they add (alerts). The function
fixture `clean` of tests/conftest.py would truncate it, so those modules do not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.conftest import ServerUrls
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.network.loader import ReferenceCounts, load_reference_network

NETWORK_TABLES = "alerts, route_stops, routes, stations, recharge_points, localities"


async def _execute(servers: ServerUrls, statement: str) -> None:
    connection = await asyncpg.connect(libpq_url(servers.database_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def drop_cached_views(servers: ServerUrls) -> None:
    """Remove every key of the session's cache namespace."""
    redis = Redis.from_url(servers.redis_url)
    try:
        async for key in redis.scan_iter(match=f"{servers.namespace}:*", count=500):
            await redis.delete(key)
    finally:
        await redis.aclose()


async def _empty_network(servers: ServerUrls) -> None:
    await _execute(servers, f"TRUNCATE {NETWORK_TABLES} CASCADE")
    await drop_cached_views(servers)


@pytest.fixture(scope="module")
async def reference_network(test_servers: ServerUrls) -> AsyncIterator[ReferenceCounts]:
    """The whole Bogotá reference network (random seed 0), for the tests of one module."""
    await _empty_network(test_servers)  # the loader keeps a network it finds: start empty
    connection = await asyncpg.connect(libpq_url(test_servers.database_url))
    try:
        counts = await load_reference_network(connection, random_seed=0)
    finally:
        await connection.close()
    yield counts
    await _empty_network(test_servers)


@pytest.fixture
async def no_alerts_left(test_servers: ServerUrls) -> AsyncIterator[None]:
    """Alerts a test writes on the module's network are removed after it, with their views."""
    yield
    await _execute(test_servers, "DELETE FROM alerts")
    await drop_cached_views(test_servers)


def cache_outcomes(app: FastAPI, bucket: str) -> tuple[int, int]:
    """This process' (hits, misses) so far for a cache bucket (a group's first segment)."""
    stats = app.state.cache.stats
    return stats.hits[bucket], stats.misses[bucket]
