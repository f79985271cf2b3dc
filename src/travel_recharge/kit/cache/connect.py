"""How the cache reaches Redis: one server by URL, or the master the Sentinels name.

Both give the one redis-py client every user of Redis shares (Cache.redis: the cache, the
rate limiter, the simulator's lease, the cache administration), with the same bounds:
connect and socket timeouts, no retries inside redis-py (the caller's circuit breaker
decides what happens next), no background health checks; and connections that stamp the
cache epoch into our keys (cache.epoch).

With Sentinels, redis-py asks them for the master's address each time it opens a connection
(not per command), and closes idle connections to an address they no longer name. Once a
replica is promoted, the next connection goes to it: the service follows a failover without
a restart, answering from PostgreSQL meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

from travel_recharge.kit.cache.epoch import STAMPED, EpochFence, EpochSentinelConnection
from travel_recharge.kit.config import Settings


@dataclass
class RedisLink:
    redis: Redis
    fence: EpochFence
    sentinel: Sentinel | None = None  # its own clients, which close apart from `redis`

    @classmethod
    def from_settings(cls, settings: Settings, key_prefix: str) -> RedisLink:
        """The Sentinels' master when TR_REDIS_SENTINELS is set, else TR_REDIS_URL."""
        bounds: dict[str, Any] = {
            "socket_connect_timeout": settings.redis_connect_timeout_s,
            "socket_timeout": settings.redis_socket_timeout_s,
        }
        connection: dict[str, Any] = {
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        if settings.redis_sentinels:
            fence = EpochFence(key_prefix, masters_only=True)
            # The Sentinels are asked with the same timeouts and, by redis-py's default for
            # them, no retries: discovery moves on to the next Sentinel instead.
            sentinel = Sentinel(settings.sentinel_addresses, **bounds)
            redis = sentinel.master_for(
                settings.redis_master_name,
                connection_class=EpochSentinelConnection,
                epoch_fence=fence,
                **connection,
            )
            return cls(redis, fence, sentinel)
        if not settings.redis_url:
            raise RuntimeError(
                "neither TR_REDIS_URL nor TR_REDIS_SENTINELS is set "
                "(the launcher sets TR_REDIS_URL for embedded Valkey)"
            )
        fence = EpochFence(key_prefix, masters_only=False)
        scheme_class = parse_url(settings.redis_url).get("connection_class", Connection)
        redis = Redis.from_url(
            settings.redis_url,
            connection_class=STAMPED[scheme_class],
            epoch_fence=fence,
            **bounds,
            **connection,
        )
        return cls(redis, fence)

    @property
    def master_address(self) -> str | None:
        """host:port of the master the Sentinels named last; None without Sentinels."""
        pool = self.redis.connection_pool
        if not isinstance(pool, SentinelConnectionPool) or pool.master_address is None:
            return None
        host, port = pool.master_address
        return f"{host}:{port}"

    async def close(self) -> None:
        try:
            await self.redis.aclose()
        finally:
            if self.sentinel is not None:
                await self.sentinel.aclose()
