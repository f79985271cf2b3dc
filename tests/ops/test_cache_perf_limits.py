"""The cache performance test cannot amplify load past the rate limits (security issue #18,
finding 4): one run at a time across workers, its requests paid for by the caller up front."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.conftest import ServerUrls, make_settings, start_app
from travel_recharge.ops.cache import performance as cache_perf
from travel_recharge.security.roles import Role

PERF = "/api/v1/cache/performance-test"


@asynccontextmanager
async def workers(
    test_servers: ServerUrls, count: int, **overrides: object
) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    """`count` app instances (as separate workers would be) sharing one Redis namespace,
    each with an in-process client acting as the same admin."""
    # Derived from the session's namespace: the session's end drops it with its limits.
    namespace = f"{test_servers.namespace}pf{uuid.uuid4().hex[:10]}"
    settings = make_settings(test_servers, cache_namespace=namespace, **overrides)
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            runner = start_app(settings)
            started.append(await anext(runner))
            stack.push_async_callback(runner.aclose)
        yield started


async def test_one_run_at_a_time_across_workers(test_servers: ServerUrls) -> None:
    async with workers(test_servers, 2) as [(a, _), (_, on_b)]:
        async with cache_perf.one_run_at_a_time(a.state.cache):
            during = await on_b.get(PERF, params={"samples": 5})
        after = await on_b.get(PERF, params={"samples": 5})
    assert during.status_code == 409
    assert during.json() == {
        "error": "conflict",
        "detail": "a cache performance test is already running; one runs at a time",
    }
    assert after.status_code == 200, after.text


async def test_the_run_is_paid_for_by_the_caller_in_the_groups_it_reads(
    test_servers: ServerUrls,
) -> None:
    """Per hour, so nothing refills while the run is measured."""
    async with workers(test_servers, 1) as [(app, _)]:
        cost = cache_perf.plan(None, app.state.access_rules, Role.admin, 5).costs["analytics"]
    assert cost == 11 * 12  # 11 analytics reads, 2 * 5 + 2 requests each
    limits = {"analytics": {"principal": f"{cost}/hour"}}
    async with workers(test_servers, 1, rate_limits=limits) as [(app, admin)]:
        run = await admin.get(PERF, params={"samples": 5})
        afterwards = await admin.get("/api/v1/trips/total")
    assert run.status_code == 200, run.text
    # The run used the caller's whole analytics budget: their next analytics read waits.
    assert afterwards.status_code == 429
    measured = [e["path"] for e in run.json()["endpoints"] if e["path"] != "/api/v1/fares"]
    assert len(measured) == 11 + 3  # the analytics reads and the network views


async def test_a_run_that_does_not_fit_the_callers_budget_is_refused_before_it_starts(
    test_servers: ServerUrls,
) -> None:
    limits = {"analytics": {"principal": "100/hour"}}  # a run at samples=5 costs 132
    async with workers(test_servers, 1, rate_limits=limits) as [(_, admin)]:
        refused = await admin.get(PERF, params={"samples": 5})
        afterwards = [(await admin.get("/api/v1/trips/total")).status_code for _ in range(3)]
        again = await admin.get(PERF, params={"samples": 5})
    assert refused.status_code == 429
    assert refused.json()["detail"] == (
        "132 requests for analytics at once are more than its limit of 100/hour per principal"
    )
    assert afterwards == [200, 200, 200]  # nothing of the refused run was counted
    assert again.status_code == 429  # and the lock was given back (else 409)


async def test_a_run_that_would_empty_the_callers_budget_is_refused(
    test_servers: ServerUrls,
) -> None:
    limits = {"analytics": {"principal": "140/hour"}}
    async with workers(test_servers, 1, rate_limits=limits) as [(_, admin)]:
        spent = [(await admin.get("/api/v1/trips/total")).status_code for _ in range(10)]
        refused = await admin.get(PERF, params={"samples": 5})
    assert spent == [200] * 10
    assert refused.status_code == 429  # 10 + 132 > 140
    assert refused.json()["error"] == "rate_limited"


async def test_without_redis_the_run_is_refused_with_503(test_servers: ServerUrls) -> None:
    async with workers(test_servers, 1, redis_url="redis://127.0.0.1:1/0") as [(_, admin)]:
        response = await admin.get(PERF, params={"samples": 5})
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "the cache performance test needs Redis, for its lock and its warm reads"
    )
