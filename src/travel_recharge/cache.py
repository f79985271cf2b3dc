"""Redis as an accelerator: bounded timeouts, a circuit breaker, fail-open operations.

Nothing here raises because Redis is down, slow or wiped: a failed read is a miss, a failed
write or delete is skipped (and counted), so every answer can still come from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from travel_recharge.config import Settings
from travel_recharge.logs import log_event

logger = logging.getLogger("travel_recharge.cache")

T = TypeVar("T")

# Key layout version: bump it when the shape of cached values changes, so a rolling
# deploy never reads values written by the previous release.
KEY_VERSION = "v1"


class CircuitBreaker:
    """Stops calling Redis after `failures` consecutive errors, for `reset_s` seconds.

    After the pause one trial call goes through (half-open); its success closes the breaker.
    The breaker is per worker process: each process learns Redis' health on its own.
    """

    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        self._consecutive_failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._threshold or self._opened_at is not None:
            self._opened_at = self._clock()


@dataclass
class CacheStats:
    """This process' cache outcomes by namespace (the first segment of a key name)."""

    hits: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    skipped_open_circuit: int = 0


# Fill a field of a cached group only if the group's generation token is still the one the
# reader saw before it queried PostgreSQL. A write that committed in between has replaced the
# token (see Cache.invalidate), so a value computed from pre-commit data is never stored.
_FILL_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
    if ARGV[1] ~= '' or current then return 0 end
    current = ARGV[5]
    redis.call('SET', KEYS[1], current, 'EX', ARGV[6])
end
redis.call('HSET', KEYS[2], ARGV[2], current .. '|' .. ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

# A generation token outlives every cached value, so a value can only match the token
# written for it; only eviction or a flush can drop a token, and then values miss.
_GENERATION_TTL_S = 86_400


class CacheUnavailable(Exception):
    """Redis could not be asked (breaker open, timeout, connection error)."""


class Cache:
    def __init__(self, redis: Redis, namespace: str, breaker: CircuitBreaker, budget_s: float):
        self.redis = redis
        self.namespace = namespace
        self.breaker = breaker
        self.stats = CacheStats()
        self._fill_script = redis.register_script(_FILL_SCRIPT)
        # Hard bound on one Redis call, beyond the socket timeouts (which a half-written
        # reply or a slow DNS lookup can outlast).
        self._budget_s = budget_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache:
        if not settings.redis_url:
            raise RuntimeError("TR_REDIS_URL is not set (the launcher sets it for embedded Valkey)")
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.redis_connect_timeout_s,
            socket_timeout=settings.redis_socket_timeout_s,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        breaker = CircuitBreaker(settings.redis_breaker_failures, settings.redis_breaker_reset_s)
        budget = settings.redis_connect_timeout_s + settings.redis_socket_timeout_s
        return cls(redis, settings.cache_namespace, breaker, budget)

    def key(self, name: str) -> str:
        """The full Redis key of a cache entry: every key we own starts with our prefix."""
        return f"{self.prefix}{name}"

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:{KEY_VERSION}:"

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation under the breaker and the time budget.

        Raises CacheUnavailable instead of any Redis or timeout error.
        """
        if not self.breaker.allow():
            self.stats.skipped_open_circuit += 1
            raise CacheUnavailable("circuit open")
        try:
            async with asyncio.timeout(self._budget_s):
                result = await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.record_failure()
            self.stats.errors += 1
            log_event(
                logger,
                "cache.error",
                logging.WARNING,
                error=type(exc).__name__,
                breaker=self.breaker.state,
            )
            raise CacheUnavailable(type(exc).__name__) from exc
        self.breaker.record_success()
        return result

    async def get(self, name: str) -> bytes | None:
        """The cached bytes, or None on a miss or when Redis cannot answer."""
        group = name.split(":", 1)[0]

        async def read() -> bytes | None:
            # The client is created without decode_responses, so values are bytes.
            return cast(bytes | None, await self.redis.get(self.key(name)))

        try:
            value = await self.call(read)
        except CacheUnavailable:
            value = None
        if value is None:
            self.stats.misses[group] += 1
        else:
            self.stats.hits[group] += 1
        return value

    async def set(self, name: str, value: bytes, ttl_s: int) -> bool:
        try:
            await self.call(lambda: self.redis.set(self.key(name), value, ex=ttl_s))
        except CacheUnavailable:
            return False
        return True

    async def delete(self, *names: str) -> bool:
        if not names:
            return True
        keys = [self.key(n) for n in names]
        try:
            await self.call(lambda: self.redis.delete(*keys))
        except CacheUnavailable:
            return False
        return True

    async def ping(self) -> float:
        """Round-trip time in milliseconds; raises CacheUnavailable when Redis does not answer.

        The health check pings even when the breaker is open, so it reports the truth and a
        recovered Redis closes the breaker without waiting for traffic.
        """
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._budget_s):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.record_failure()
            raise CacheUnavailable(type(exc).__name__) from exc
        self.breaker.record_success()
        return (time.perf_counter() - started) * 1000

    async def read_through(
        self, group: str, field: str, ttl_s: int, load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The cached bytes of `field` in `group`, or `load()`'s result, stored for next time.

        A group holds the cached views of one thing (a card: balance, history pages, trips
        pages); writers call `invalidate(group)` after their commit.
        """
        stats_group = group.split(":", 1)[0]
        generation_key, data_key = self._group_keys(group)

        async def read() -> tuple[bytes | None, bytes | None]:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(generation_key)
                pipe.hget(data_key, field)
                token, raw = await pipe.execute()
            return token, raw

        try:
            token, raw = await self.call(read)
        except CacheUnavailable:
            self.stats.misses[stats_group] += 1
            return await load()
        if raw is not None and token is not None:
            stored_token, _, payload = raw.partition(b"|")
            if stored_token == token:
                self.stats.hits[stats_group] += 1
                return payload
        self.stats.misses[stats_group] += 1
        value = await load()
        await self._fill(generation_key, data_key, field, token, value, ttl_s)
        return value

    async def _fill(
        self,
        generation_key: str,
        data_key: str,
        field: str,
        seen_token: bytes | None,
        value: bytes,
        ttl_s: int,
    ) -> None:
        args: list[bytes | str | int] = [
            seen_token or b"",
            field,
            value,
            ttl_s,
            uuid.uuid4().hex,
            _GENERATION_TTL_S,
        ]

        async def fill() -> object:
            return await self._fill_script(keys=[generation_key, data_key], args=args)

        with contextlib.suppress(CacheUnavailable):
            await self.call(fill)

    async def invalidate(self, *groups: str) -> bool:
        """Make every cached view of these groups stale; call it after the commit.

        A fresh generation token is enough: values stored under the old token never match
        again, and their hash expires with its TTL. (One SET per group, on the tap's hot path.)
        """

        async def run() -> object:
            if len(groups) == 1:
                return await self.redis.set(
                    self._group_keys(groups[0])[0], uuid.uuid4().hex, ex=_GENERATION_TTL_S
                )
            async with self.redis.pipeline(transaction=False) as pipe:
                for group in groups:
                    pipe.set(self._group_keys(group)[0], uuid.uuid4().hex, ex=_GENERATION_TTL_S)
                return await pipe.execute()

        try:
            await self.call(run)
        except CacheUnavailable:
            log_event(logger, "cache.invalidation_skipped", logging.WARNING, groups=list(groups))
            return False
        return True

    def _group_keys(self, group: str) -> tuple[str, str]:
        return self.key(f"{group}:gen"), self.key(f"{group}:data")

    async def close(self) -> None:
        await self.redis.aclose()


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]
