"""Cache monitoring (operators and admins) and administration (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from travel_recharge.cards.schemas import MAX_ID
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.ops.cache import performance as cache_perf
from travel_recharge.ops.cache import service as cache_service
from travel_recharge.ops.cache.schemas import (
    CacheHealthOut,
    CacheStatsOut,
    ClearOut,
    DeletedKeyOut,
    KeyPage,
    PerformanceOut,
)
from travel_recharge.security import CurrentPrincipal, Role, allow

router = APIRouter(
    prefix="/api/v1/cache",
    tags=["cache"],
    route_class=StrictJSONRoute,
)
# Operators watch the cache (the /cache page); only admins change it.
MONITOR = [allow("admin", Role.operator)]
ADMINISTER = [allow("admin")]

Cursor = Annotated[
    str, Query(pattern=r"^[0-9]{1,20}$", description="SCAN cursor: 0 to start, then next_cursor")
]
Limit = Annotated[int, Query(ge=1, le=500, description="about this many keys per page")]
Pattern = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=256,
        description="SCAN MATCH glob over full key names; must start with the namespace prefix "
        '("<namespace>:"); default: every key of the namespace',
    ),
]
Samples = Annotated[int, Query(ge=5, le=200, description="cold and warm samples per endpoint")]
CardIdQuery = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="also measure this card's balance view")
]
KeyName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=1024,
        description="the full Redis key, namespace prefix included (as GET /keys shows it)",
    ),
]


@router.get("/stats", response_model=CacheStatsOut, dependencies=MONITOR)
async def cache_stats(cache: CacheDep) -> CacheStatsOut:
    """This worker's hits, misses and stampede outcomes per namespace, plus Redis figures."""
    return await cache_service.stats(cache)


@router.get(
    "/keys", response_model=KeyPage, responses=error_responses(422, 503), dependencies=MONITOR
)
async def cache_keys(
    cache: CacheDep, cursor: Cursor = "0", limit: Limit = 100, pattern: Pattern = None
) -> KeyPage:
    """One SCAN page of our namespace's keys (full names), each with its TTL and size."""
    return await cache_service.list_keys(cache, int(cursor), limit, pattern)


@router.get("/health", response_model=CacheHealthOut, dependencies=MONITOR)
async def cache_health(cache: CacheDep) -> CacheHealthOut:
    """Redis connectivity, PING latency and this worker's circuit breaker state (always 200)."""
    return await cache_service.check(cache)


@router.get(
    "/performance-test",
    response_model=PerformanceOut,
    responses=error_responses(422),
    dependencies=MONITOR,
)
async def performance_test(
    request: Request,
    cache: CacheDep,
    principal: CurrentPrincipal,
    samples: Samples = 20,
    card_id: CardIdQuery = None,
) -> PerformanceOut:
    """Cold (PostgreSQL only) against warm (Redis) p50/p99 of the read endpoints the caller
    may read, in process."""
    # The measured requests act as the caller, uncounted by the rate limits.
    caller = request.headers.get("authorization")
    paths = cache_perf.paths_for(card_id, request.app.state.access_rules, principal.role)
    return await cache_perf.compare(request.app, cache, samples, paths, caller)


@router.post(
    "/clear", response_model=ClearOut, responses=error_responses(503), dependencies=ADMINISTER
)
async def clear_cache(cache: CacheDep) -> ClearOut:
    """Delete every key of our namespace (SCAN + UNLINK; never FLUSHDB), and nothing else."""
    return await cache_service.clear(cache)


@router.delete(
    "/key/{key_name:path}",
    response_model=DeletedKeyOut,
    responses=error_responses(404, 422, 503),
    dependencies=ADMINISTER,
)
async def delete_cache_key(cache: CacheDep, key_name: KeyName) -> DeletedKeyOut:
    """Delete one key of our namespace; names outside it are refused (422)."""
    return await cache_service.delete_key(cache, key_name)
