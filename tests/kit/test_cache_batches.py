"""Redis calls of concurrent requests sent together (kit.cache.together.Batches): one round
trip for all of them, each caller with its own results or its own error, a rate limit
counted once even when the server lost its scripts.

On a private redis-server, so that its socket reads can be counted and it can be killed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import HANG_S, ServerUrls, make_settings
from tests.kit.redis_sentinels import Server
from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.cache.together import Command
from travel_recharge.kit.errors import TooManyRequests
from travel_recharge.security.rate_limit import Rate, RateLimiter

CALLERS = 20


@pytest.fixture
async def cache(test_servers: ServerUrls, private_redis: Server) -> AsyncIterator[Cache]:
    settings = make_settings(test_servers, redis_url=f"redis://{private_redis.address}/0")
    cache = Cache.from_settings(settings)
    try:
        await cache.together([Command(("PING",))])  # connected: the handshake is done
        yield cache
    finally:
        await cache.close()


def socket_reads(server: Server) -> int:
    """Requests the server has read from its clients' sockets (a pipeline arrives as one);
    this question's own read included."""
    return int(server.client().info("stats")["total_reads_processed"])


async def test_concurrent_callers_share_one_round_trip(cache: Cache, private_redis: Server) -> None:
    for i in range(CALLERS):
        private_redis.client().set(f"batch:{i}", f"value {i}")
    before = socket_reads(private_redis)

    async def read(i: int) -> list[object]:
        return await cache.together([Command(("GET", f"batch:{i}")), Command(("STRLEN", "x"))])

    answers = await asyncio.gather(*(read(i) for i in range(CALLERS)))
    assert answers == [[f"value {i}".encode(), 0] for i in range(CALLERS)]
    # One read for all 40 commands (and one for this question), not one per caller.
    assert socket_reads(private_redis) - before == 2


async def test_a_callers_own_error_reaches_only_that_caller(
    cache: Cache, private_redis: Server
) -> None:
    private_redis.client().set("batch:text", "not a number")
    before = socket_reads(private_redis)
    wrong, right = await asyncio.gather(
        cache.together([Command(("INCR", "batch:text"))]),
        cache.together([Command(("INCR", "batch:counter"))]),
        return_exceptions=True,
    )
    assert isinstance(wrong, CacheUnavailable)
    assert right == [1]
    assert socket_reads(private_redis) - before == 2  # they still went together


async def test_a_limit_is_counted_once_when_the_server_lost_its_scripts(
    cache: Cache, private_redis: Server
) -> None:
    limiter = RateLimiter(cache, {"taps": {"principal": Rate.parse(f"{CALLERS}/minute")}})
    await limiter.admit("taps", None, "account:7")
    private_redis.client().script_flush()
    # Every caller's script misses together; each is sent once more, and counted once.
    await asyncio.gather(*(limiter.admit("taps", None, "account:7") for _ in range(CALLERS - 1)))
    with pytest.raises(TooManyRequests):
        await limiter.admit("taps", None, "account:7")


async def test_a_lost_round_trip_fails_every_caller_of_its_batch(
    cache: Cache, private_redis: Server
) -> None:
    private_redis.kill()
    async with asyncio.timeout(HANG_S):
        answers = await asyncio.gather(
            *(cache.together([Command(("GET", f"batch:{i}"))]) for i in range(CALLERS)),
            return_exceptions=True,
        )
    assert all(isinstance(answer, CacheUnavailable) for answer in answers), answers
