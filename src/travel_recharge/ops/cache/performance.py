"""Cold-vs-warm comparison of real read endpoints, through the whole app, in process.

Cold: the endpoint computes its answer from PostgreSQL with Redis not asked at all (no read,
no write). Warm: the endpoint reads its answer from Redis. Both go through the same ASGI stack
(middleware, routing, dependencies, serialization) and are taken alternately, so drift in the
machine's load affects both alike. Warm reads use a scratch copy of each view under a key
prefix of their own inside the namespace, deleted afterwards: real cached values, their TTLs
and this process' stats are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Scope

from travel_recharge.bench.http_load import percentile
from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.ops.cache.schemas import EndpointComparison, LatencySummary, PerformanceOut
from travel_recharge.ops.cache.service import sweep
from travel_recharge.security.access import AccessRule
from travel_recharge.security.rate_limit import UNCOUNTED
from travel_recharge.security.roles import Role

Headers = list[tuple[bytes, bytes]]

METHOD = (
    "per endpoint: one unmeasured request of each kind, then `samples` cold and `samples` warm "
    "requests taken alternately through the app in process (no network); cold = computed from "
    "PostgreSQL without Redis, warm = served from a scratch copy in Redis"
)


# Cached network views anyone may read, measured beside the seed's read endpoints.
NETWORK_VIEWS = (
    "/api/v1/stations/identifiers",
    "/api/v1/routes/codes",
    "/api/v1/recharge-points",
)
CARD_BALANCE = "/api/v1/cards/{card_id}/balance"


def paths_for(
    card_id: int | None, rules: Mapping[tuple[str, str], AccessRule], role: Role
) -> list[str]:
    """The API's read endpoints (the list `travel-recharge bench reads` measures too), the
    cached network views and the balance view of `card_id` when one is given: those of them
    `role` may read. The measured requests carry the caller's own token, so an endpoint the
    caller may not read would only measure a refusal."""
    # Imported here: the benchmark package is not needed to serve requests.
    from travel_recharge.bench.reads import ENDPOINTS

    templates = [*ENDPOINTS, *NETWORK_VIEWS, *([CARD_BALANCE] if card_id else [])]
    readable = [t for t in templates if _may_read(rules.get(("GET", t)), role)]
    return [t.format(card_id=card_id) for t in readable]


def _may_read(rule: AccessRule | None, role: Role) -> bool:
    return rule is not None and (rule.public or role in rule.roles)


async def compare(
    app: ASGIApp, cache: Cache, samples: int, paths: list[str], authorization: str | None
) -> PerformanceOut:
    """`authorization`: the header the measured requests carry (the caller's own)."""
    headers = [(b"host", b"cache-performance-test"), (b"accept", b"application/json")]
    if authorization:
        headers.append((b"authorization", authorization.encode("latin-1")))
    results = [await _compare_one(app, cache, samples, path, headers) for path in paths]
    return PerformanceOut(samples=samples, method=METHOD, endpoints=results)


async def _compare_one(
    app: ASGIApp, cache: Cache, samples: int, path: str, headers: Headers
) -> EndpointComparison:
    with cache.isolated(use_redis=False):
        status, _ = await _timed_get(app, path, headers)  # also warms the connection pool
    if not 200 <= status < 300:
        return EndpointComparison(
            path=path,
            status=status,
            cold=None,
            warm=None,
            warm_hits=0,
            speedup_p50=None,
            speedup_p99=None,
        )
    cold: list[float] = []
    warm: list[float] = []
    with cache.isolated(use_redis=True) as scratch:
        try:
            await _timed_get(app, path, headers)  # fills the scratch copy
            hits_before = sum(scratch.stats.hits.values())
            for _ in range(samples):
                with cache.isolated(use_redis=False):
                    cold.append((await _timed_get(app, path, headers))[1])
                warm.append((await _timed_get(app, path, headers))[1])
            warm_hits = sum(scratch.stats.hits.values()) - hits_before
        finally:
            # Shielded: a client that goes away mid-test must not leave the scratch keys.
            with contextlib.suppress(CacheUnavailable):
                await asyncio.shield(sweep(cache, f"{scratch.key_prefix}*", rotate_tokens=False))
    cold_summary, warm_summary = _summary(cold), _summary(warm)
    return EndpointComparison(
        path=path,
        status=status,
        cold=cold_summary,
        warm=warm_summary,
        warm_hits=warm_hits,
        speedup_p50=_ratio(cold_summary.p50_ms, warm_summary.p50_ms),
        speedup_p99=_ratio(cold_summary.p99_ms, warm_summary.p99_ms),
    )


def _summary(latencies_ms: list[float]) -> LatencySummary:
    return LatencySummary(
        samples=len(latencies_ms),
        p50_ms=round(percentile(latencies_ms, 0.50), 3),
        p99_ms=round(percentile(latencies_ms, 0.99), 3),
        mean_ms=round(statistics.fmean(latencies_ms), 3),
        min_ms=round(min(latencies_ms), 3),
        max_ms=round(max(latencies_ms), 3),
    )


def _ratio(cold_ms: float, warm_ms: float) -> float | None:
    return round(cold_ms / warm_ms, 2) if warm_ms > 0 else None


async def _timed_get(app: ASGIApp, path: str, headers: Headers) -> tuple[int, float]:
    """One GET through the whole ASGI app: (status, milliseconds until the last body byte)."""
    status = 0
    finished = asyncio.Event()
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    started = time.perf_counter()
    await app(_scope(path, headers), receive, send)
    finished.set()
    return status, (time.perf_counter() - started) * 1000


def _scope(path: str, headers: Headers) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("cache-performance-test", 80),
        "state": {UNCOUNTED: True},
    }
