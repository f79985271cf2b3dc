"""Cache administration: figures, key listing and deletion, confined to our namespace.

Our namespace is every key starting with "<TR_CACHE_NAMESPACE>:" (all key layout versions).
Keys are found with SCAN, never KEYS, and removed with UNLINK, never FLUSHDB/FLUSHALL, so other
applications sharing the Redis database are never touched and Redis never blocks on us.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable
from functools import partial
from typing import Any, TypeVar, cast

from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.cache import Cache, CacheStats, CacheUnavailable
from travel_recharge.kit.errors import NotFound, ServiceUnavailable, Unprocessable
from travel_recharge.ops import service as health
from travel_recharge.ops.cache.key_count import namespace_keys
from travel_recharge.ops.cache.schemas import (
    BreakerState,
    CacheHealthOut,
    CacheKey,
    CacheStatsOut,
    ClearOut,
    DeletedKeyOut,
    GroupStats,
    KeyPage,
    ProcessStats,
    RedisFigures,
)

# SCAN steps one keys page may take: a sparse pattern in a big database ends the page early
# (with a cursor) instead of holding the request.
_MAX_SCANS_PER_PAGE = 20
# The most keys one SCAN step of a keys page examines (its COUNT grows on empty steps).
_MAX_SCAN_COUNT = 10_000
# Redis glob's special characters: a pattern without them names one key.
_GLOB = re.compile(r"[*?\[\]\\]")
# Keys unlinked per round trip when clearing.
_CLEAR_BATCH = 500

T = TypeVar("T")


class CacheUnavailableError(ServiceUnavailable):
    code = "cache_unavailable"


def namespace_prefix(cache: Cache) -> str:
    return f"{cache.namespace}:"


async def stats(cache: Cache) -> CacheStatsOut:
    process = _process_stats(cache.stats, cast(BreakerState, cache.breaker.state))
    figures: RedisFigures | None = None
    detail: str | None = None
    try:
        figures = await _redis_figures(cache)
    except CacheUnavailable as exc:
        detail = str(exc)
    return CacheStatsOut(
        namespace=cache.namespace,
        key_prefix=cache.base_prefix,
        process=process,
        redis_status="ok" if figures is not None else "down",
        redis_detail=detail,
        redis=figures,
    )


def _process_stats(outcomes: CacheStats, breaker: BreakerState) -> ProcessStats:
    groups = {group: _group_stats(outcomes, group) for group in outcomes.groups()}
    total = GroupStats(
        hits=sum(g.hits for g in groups.values()),
        misses=sum(g.misses for g in groups.values()),
        hit_rate=None,
        computed=sum(g.computed for g in groups.values()),
        waited=sum(g.waited for g in groups.values()),
        served_stale=sum(g.served_stale for g in groups.values()),
        coalesced=sum(g.coalesced for g in groups.values()),
        wait_timeouts=sum(g.wait_timeouts for g in groups.values()),
    )
    total.hit_rate = _rate(total.hits, total.misses)
    return ProcessStats(
        pid=os.getpid(),
        groups=groups,
        total=total,
        errors=outcomes.errors,
        skipped_open_circuit=outcomes.skipped_open_circuit,
        breaker=breaker,
    )


def _group_stats(outcomes: CacheStats, group: str) -> GroupStats:
    return GroupStats(
        hits=outcomes.hits[group],
        misses=outcomes.misses[group],
        hit_rate=_rate(outcomes.hits[group], outcomes.misses[group]),
        computed=outcomes.computed[group],
        waited=outcomes.waited[group],
        served_stale=outcomes.served_stale[group],
        coalesced=outcomes.coalesced[group],
        wait_timeouts=outcomes.wait_timeouts[group],
    )


def _rate(hits: int, misses: int) -> float | None:
    lookups = hits + misses
    return round(hits / lookups, 4) if lookups else None


async def _redis_figures(cache: Cache) -> RedisFigures:
    info = cast(dict[str, Any], await cache.call(lambda: cache.redis.info()))
    counted = await namespace_keys(cache, namespace_prefix(cache))
    return RedisFigures(
        redis_version=str(info.get("redis_version", "")),
        used_memory=int(info.get("used_memory", 0)),
        used_memory_human=str(info.get("used_memory_human", "")),
        keyspace_hits=int(info.get("keyspace_hits", 0)),
        keyspace_misses=int(info.get("keyspace_misses", 0)),
        instantaneous_ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
        connected_clients=int(info.get("connected_clients", 0)),
        namespace_keys=counted.keys,
        namespace_keys_complete=counted.complete,
        namespace_keys_age_s=round(counted.age_s, 3),
    )


async def check(cache: Cache) -> CacheHealthOut:
    component = await health.check_cache(cache)
    return CacheHealthOut(
        status=component.status,
        latency_ms=component.latency_ms,
        detail=component.detail,
        breaker=cast(BreakerState, cache.breaker.state),
        namespace=cache.namespace,
        role=component.role,
        master=component.master,
        epoch=component.epoch,
    )


async def list_keys(cache: Cache, cursor: int, limit: int, pattern: str | None) -> KeyPage:
    """About `limit` keys of our namespace from `cursor` on, each with its TTL and size.

    SCAN may give a few more keys than asked in one step (its COUNT is a hint) and, with a
    sparse pattern, a page may hold fewer; iterate until next_cursor is null.
    """
    prefix = namespace_prefix(cache)
    match = pattern if pattern is not None else f"{prefix}*"
    # The namespace contains no glob character (see Settings.cache_namespace), so a pattern
    # that starts with it literally can only match keys inside it.
    if not match.startswith(prefix):
        raise Unprocessable(f"pattern must start with the namespace prefix {prefix!r}")
    if not _GLOB.search(match):
        # One key named exactly: looked up, not scanned for (a scan of a big database could
        # end its bounded page before reaching it).
        exists = await _admin(cache.call(lambda: cache.redis.exists(match)))
        keys = await _admin(_describe(cache, [match.encode()] if exists else []))
        return KeyPage(pattern=match, keys=keys, next_cursor=None)
    found: list[bytes] = []
    count = limit
    for _ in range(_MAX_SCANS_PER_PAGE):
        cursor, batch = await _admin(cache.scan(cursor, match, count))
        found.extend(batch)
        if cursor == 0 or len(found) >= limit:
            break
        if not batch:
            # A stretch of other applications' keys: look further per step, so a page of a
            # shared database does not come back empty while ours lie further on.
            count = min(count * 4, _MAX_SCAN_COUNT)
    keys = await _admin(_describe(cache, found))
    return KeyPage(pattern=match, keys=keys, next_cursor=str(cursor) if cursor else None)


async def _describe(cache: Cache, names: list[bytes]) -> list[CacheKey]:
    if not names:
        return []

    async def run() -> list[Any]:
        async with cache.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.pttl(name)
                pipe.memory_usage(name)
            return await pipe.execute(raise_on_error=False)

    replies = await cache.call(run)
    described = []
    for name, ttl, size in zip(names, replies[0::2], replies[1::2], strict=True):
        if ttl == -2:  # removed since the SCAN
            continue
        described.append(
            CacheKey(
                key=name.decode(errors="backslashreplace"),
                ttl_ms=ttl if isinstance(ttl, int) and ttl >= 0 else None,
                size_bytes=size if isinstance(size, int) else None,
            )
        )
    return described


async def clear(cache: Cache, *, actor: Actor) -> ClearOut:
    """Unlink every key of our namespace, batch by batch; see ClearOut for tokens."""
    prefix = namespace_prefix(cache)
    try:
        deleted, invalidated = await sweep(cache, f"{prefix}*", rotate_tokens=True)
    except CacheUnavailable as exc:
        # Part of the namespace may be gone: that is worth attributing too.
        audit("cache.clear_interrupted", actor, f"cache:{prefix}*")
        raise CacheUnavailableError(
            f"Redis stopped answering during the clear ({exc}); run it again"
        ) from exc
    audit("cache.cleared", actor, f"cache:{prefix}*", deleted=deleted, invalidated=invalidated)
    return ClearOut(deleted=deleted, invalidated=invalidated)


async def sweep(cache: Cache, match: str, *, rotate_tokens: bool) -> tuple[int, int]:
    """Unlink the keys matching `match` (a pattern inside our namespace); with rotate_tokens,
    generation tokens are replaced instead. Returns (unlinked, replaced)."""
    deleted = rotated = 0
    cursor = 0
    while True:
        cursor, batch = await cache.scan(cursor, match, _CLEAR_BATCH)
        removed, replaced = await cache.call(partial(_sweep_batch, cache, batch, rotate_tokens))
        deleted += removed
        rotated += replaced
        if cursor == 0:
            return deleted, rotated


async def _sweep_batch(cache: Cache, batch: list[bytes], rotate_tokens: bool) -> tuple[int, int]:
    # A deleted generation token would let a reader that saw no token before the clear fill
    # its (possibly pre-write) value under a fresh one; a replaced token refuses that fill.
    tokens: list[bytes] = []
    others: list[bytes] = []
    for key in batch:
        is_token = rotate_tokens and cache.is_generation_key(key.decode(errors="replace"))
        (tokens if is_token else others).append(key)
    async with cache.redis.pipeline(transaction=False) as pipe:
        for key in tokens:
            token, ttl_s = cache.new_generation()
            pipe.set(key, token, ex=ttl_s, xx=True)
        if others:
            pipe.unlink(*others)
        replies = await pipe.execute()
    rotated = sum(1 for reply in replies[: len(tokens)] if reply)
    return (int(replies[-1]) if others else 0), rotated


async def delete_key(cache: Cache, name: str, *, actor: Actor) -> DeletedKeyOut:
    """Delete one key of our namespace (a generation token is replaced instead, see clear)."""
    prefix = namespace_prefix(cache)
    if not name.startswith(prefix) or name == prefix:
        raise Unprocessable(f"only keys of the namespace {prefix!r} can be deleted")

    async def run() -> bool:
        if cache.is_generation_key(name):
            token, ttl_s = cache.new_generation()
            return bool(await cache.redis.set(name, token, ex=ttl_s, xx=True))
        return bool(await cache.redis.unlink(name))

    if not await _admin(cache.call(run)):
        raise NotFound(f"no key {name!r} in the cache")
    action = "invalidated" if cache.is_generation_key(name) else "deleted"
    audit("cache.key_deleted", actor, f"cache:{name}", outcome=action)
    return DeletedKeyOut(key=name, action=action)


async def _admin(operation: Awaitable[T]) -> T:
    """An administration call needs Redis itself: when Redis cannot answer it is a 503."""
    try:
        return await operation
    except CacheUnavailable as exc:
        raise CacheUnavailableError(f"Redis is not answering ({exc})") from exc
