"""The Redis client: every call bounded in time and guarded by the circuit breaker.

It reaches one Redis by URL or the master the Sentinels name (cache.connect), and our keys
carry that master's epoch, so a failover never brings back views its writes had retired
(cache.epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request
from redis.exceptions import RedisError

from travel_recharge.kit.cache.breaker import CacheUnavailable, CircuitBreaker
from travel_recharge.kit.cache.connect import RedisLink
from travel_recharge.kit.cache.epoch import Replication, Role
from travel_recharge.kit.cache.read_through import (
    GENERATION_TTL_S,
    Load,
    ReadThrough,
    StampedePolicy,
    ViewKeys,
)
from travel_recharge.kit.cache.stats import CacheStats
from travel_recharge.kit.cache.together import Batches, Call, Command, ScriptCall
from travel_recharge.kit.config import Settings
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.metrics import CACHE_BREAKER_OPEN

logger = logging.getLogger("travel_recharge.cache")

T = TypeVar("T")

# Key layout version: bump it when the shape of cached values changes, so a rolling
# deploy never reads values written by the previous release.
KEY_VERSION = "v1"


@dataclass(frozen=True)
class IsolatedScope:
    """Keys and stats of one isolated block (see Cache.isolated)."""

    cache: Cache
    label: str
    use_redis: bool
    stats: CacheStats = field(default_factory=CacheStats)

    @property
    def key_prefix(self) -> str:
        """Every key written inside the block starts with this (inside our namespace)."""
        return f"{self.cache.base_prefix}scratch:{self.label}:"


# Bounds the memory of a long outage (~100 bytes a group); past it, a card written during
# the outage may be served stale for up to its TTL once Redis is back (logged).
MAX_UNPAID_INVALIDATIONS = 200_000

# Per task, not per process: an isolated block must not change what concurrent requests see.
_scope: ContextVar[IsolatedScope | None] = ContextVar("travel_recharge_cache_scope", default=None)


@dataclass(frozen=True)
class ServerProbe:
    """What the health check learns of the Redis server the cache talks to."""

    latency_ms: float
    role: Role
    epoch: str  # the cache epoch of its keys (see cache.epoch)
    master: str | None  # host:port the Sentinels name; None without Sentinels


class Cache:
    def __init__(
        self,
        link: RedisLink,
        namespace: str,
        breaker: CircuitBreaker,
        budget_s: float,
        stampede: StampedePolicy | None = None,
    ):
        self._link = link
        # Every user of Redis goes through this one client: with Sentinels, it follows the
        # master through a failover (see cache.connect).
        self.redis = link.redis
        self.fence = link.fence
        self.namespace = namespace
        self.breaker = breaker
        self._stats = CacheStats.exported()
        self._views = ReadThrough(self, stampede or StampedePolicy())
        # Hard bound on one Redis call, beyond the socket timeouts (which a half-written
        # reply or a slow DNS lookup can outlast).
        self._budget_s = budget_s
        # Groups whose invalidation could not reach Redis from this process. Redis may still
        # hold their old views (a partition, not a restart): the debt is paid with the next
        # call that reaches Redis, and until then this process reads them from PostgreSQL.
        # After a failover it is paid to the new master, under its epoch: views filled there
        # before this process' write had committed must not outlive it either.
        self._unpaid: set[str] = set()
        self._batches = Batches(self.redis)

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache:
        link = RedisLink.from_settings(settings, base_prefix(settings.cache_namespace))
        breaker = CircuitBreaker(
            settings.redis_breaker_failures,
            settings.redis_breaker_reset_s,
            on_change=lambda is_open: CACHE_BREAKER_OPEN.set(int(is_open)),
        )
        budget = settings.redis_connect_timeout_s + settings.redis_socket_timeout_s
        stampede = StampedePolicy.from_settings(settings)
        return cls(link, settings.cache_namespace, breaker, budget, stampede)

    def key(self, name: str) -> str:
        """The full Redis key of a cache entry, as commands name it: every key we own starts
        with our prefix; the connection that sends it fills the epoch in (fence.current is
        the epoch the newest connection found, for tools that read Redis directly)."""
        return f"{self.prefix}{name}"

    @property
    def base_prefix(self) -> str:
        """Every key of this key layout version starts with this (all epochs)."""
        return base_prefix(self.namespace)

    @property
    def prefix(self) -> str:
        """Outside isolated blocks: our keys of the epoch of whichever server a command
        reaches (its connection fills the placeholder in, see cache.epoch)."""
        scope = self._scope()
        return scope.key_prefix if scope is not None else self.fence.placeholder_prefix

    @property
    def stats(self) -> CacheStats:
        scope = self._scope()
        return scope.stats if scope is not None else self._stats

    @property
    def stampede(self) -> StampedePolicy:
        return self._views.policy

    @property
    def budget_s(self) -> float:
        """The longest one Redis call may take."""
        return self._budget_s

    def _scope(self) -> IsolatedScope | None:
        scope = _scope.get()
        return scope if scope is not None and scope.cache is self else None

    @contextlib.contextmanager
    def isolated(self, *, use_redis: bool) -> Iterator[IsolatedScope]:
        """Within the block (this task and tasks it starts) every key lives under the scope's
        own prefix inside our namespace and outcomes go to the scope's own stats; with
        use_redis=False Redis is not asked at all. Real keys and this process' stats stay
        untouched: the performance test measures real endpoints with it."""
        scope = IsolatedScope(self, uuid.uuid4().hex, use_redis)
        token = _scope.set(scope)
        try:
            yield scope
        finally:
            _scope.reset(token)

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation under the breaker and the time budget.

        Raises CacheUnavailable instead of any Redis or timeout error.
        """
        scope = self._scope()
        if scope is not None and not scope.use_redis:
            raise CacheUnavailable("bypassed")
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

    async def scan(self, cursor: int, match: str, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step under the breaker and the time budget: the next cursor (0: done)
        and the keys it found."""

        async def run() -> tuple[int, list[bytes]]:
            return cast(
                tuple[int, list[bytes]],
                await self.redis.scan(cursor=cursor, match=match, count=count),
            )

        return await self.call(run)

    async def get(self, name: str) -> bytes | None:
        """The cached bytes, or None on a miss or when Redis cannot answer."""
        group = bucket_of(name)

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

    async def probe(self) -> ServerProbe:
        """The server's role and epoch and the round trip of asking them (one INFO);
        raises CacheUnavailable when Redis does not answer.

        The health check asks even when the breaker is open, so it reports the truth and a
        recovered Redis closes the breaker without waiting for traffic.
        """
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._budget_s):
                info = await self.redis.info("replication")
            replication = Replication.from_fields(info)
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.record_failure()
            raise CacheUnavailable(type(exc).__name__) from exc
        self.breaker.record_success()
        return ServerProbe(
            latency_ms=(time.perf_counter() - started) * 1000,
            role=replication.role,
            epoch=self.fence.epoch_of(replication),
            master=self._link.master_address,
        )

    async def read_through(
        self, group: str, field: str, ttl_s: int, load: Load, *, stale_ok: bool = False
    ) -> bytes:
        """The cached bytes of `field` in `group`, or `load()`'s result, stored for next time.

        A group holds the cached views of one thing (a card: balance, history pages, trips
        pages); writers call `invalidate(group)` after their commit, and a value stored under
        an invalidated generation is never served again.

        Concurrent misses of one view run `load` once, across processes (the protocol and its
        bounds are in travel_recharge.cache.read_through). With `stale_ok`, for views whose
        freshness bound is their TTL (never card views), a value whose TTL ran out but whose
        generation is current is served while another caller recomputes it, up to
        `cache_stale_grace_s` after expiry.
        """
        if self._unpaid and not await self._pay_debt() and group in self._unpaid:
            return await load()
        return await self._views.read(
            self._view_keys(group, field), bucket_of(group), ttl_s, load, stale_ok
        )

    def _view_keys(self, group: str, field: str) -> ViewKeys:
        base = self.key(group)
        return ViewKeys(self.generation_key(group), f"{base}:f:{field}", f"{base}:lock:{field}")

    def peek(self, group: str, field: str) -> ScriptCall | None:
        """The script that reads a fresh cached value of the view and changes nothing, to
        send with others (`together`); None while only read_through may read this process'
        views: an invalidation of its own has not reached Redis yet, or in an isolated block."""
        if self._unpaid or self._scope() is not None:
            return None
        return self._views.peek_call(self._view_keys(group, field))

    def count_hit(self, group: str) -> None:
        """A view served from a `peek` counts as a hit, like one read_through served."""
        self.stats.hits[bucket_of(group)] += 1

    async def together(self, calls: Sequence[Call]) -> list[object]:
        """The calls' results from one round trip, under the breaker and the time budget
        (CacheUnavailable like `call`)."""
        return await self.call(lambda: self._batches.run(calls))

    @property
    def unpaid_invalidations(self) -> int:
        """Invalidations of this process still waiting for Redis to be reachable."""
        return len(self._unpaid)

    async def _pay_debt(self) -> bool:
        """Retry the invalidations Redis missed; True once none is left."""
        if self._scope() is not None:
            return False  # an isolated block's keys are not the real ones
        return await self.invalidate()

    async def invalidate(self, *groups: str) -> bool:
        """Make every cached view of these groups stale; call it after the commit.

        A fresh generation token is enough: values stored under the old token never match
        again, and expire with their TTL. (One SET per group, on the tap's hot path.)
        """

        # Earlier invalidations Redis missed go with this one (outside isolated blocks).
        unpaid = sorted(self._unpaid) if self._scope() is None else []
        todo = [*groups, *(group for group in unpaid if group not in groups)]
        if not todo:
            return True

        renewals = [
            Command(("SET", self.generation_key(group), uuid.uuid4().hex, "EX", GENERATION_TTL_S))
            for group in todo
        ]
        try:
            await self.together(renewals)
        except CacheUnavailable:
            if groups and self._scope() is None:
                if len(self._unpaid) < MAX_UNPAID_INVALIDATIONS:
                    self._unpaid.update(groups)
                log_event(
                    logger,
                    "cache.invalidation_deferred",
                    logging.WARNING,
                    groups=list(groups),
                    unpaid=len(self._unpaid),
                )
            return False
        self._unpaid.difference_update(unpaid)
        return True

    def generation_key(self, group: str) -> str:
        return self.key(f"{group}:gen")

    def is_generation_key(self, full_key: str) -> bool:
        """Whether a full key is a generation token of this key version (see invalidate)."""
        name = full_key.removeprefix(self.base_prefix)
        return (
            name != full_key
            and name.endswith(":gen")
            and ":f:" not in name
            and ":lock:" not in name
        )

    def new_generation(self) -> tuple[str, int]:
        """A fresh generation token and its lifetime in seconds."""
        return uuid.uuid4().hex, GENERATION_TTL_S

    async def close(self) -> None:
        await self._link.close()


def bucket_of(group: str) -> str:
    """The stats namespace of a group: its first segment (`cards:42` counts as `cards`)."""
    return group.split(":", 1)[0]


def base_prefix(namespace: str) -> str:
    return f"{namespace}:{KEY_VERSION}:"


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]
