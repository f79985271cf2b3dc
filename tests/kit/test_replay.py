"""The edge's replay of cached answers (kit.replay): the route's own answer, again, for the
same caller only, counted once in the rate limits, never older than the route's.

These tests run their own app on a private redis-server, so they can count its commands
exactly and stop it, with `answer_replay_s` long enough that a learned answer outlives a
slow test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    Network,
    ServerUrls,
    bearer,
    client_for,
    make_settings,
    start_app,
)
from tests.kit.redis_sentinels import Server
from tests.money import new_card, recharge
from tests.observability.samples import value
from travel_recharge.security.roles import Role

ANALYST_READS = ["/api/v1/trips/total", "/api/v1/analytics/top-stations", "/api/v1/fares"]
PUBLIC_READS = ["/api/v1/stations?limit=10", "/api/v1/stations/02000/details"]


def replays() -> float:
    return value("http_replayed_total")


def answer_of(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers, but the request id (each request has its own)."""
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, response.content, headers


@dataclass
class Replaying:
    app: FastAPI
    admin: httpx.AsyncClient
    redis: Server

    def client(self, role: Role | None, **claims: int) -> httpx.AsyncClient:
        headers = None if role is None else bearer(self.app, role, **claims)  # type: ignore[arg-type]
        return client_for(self.app, headers)

    def reads(self) -> int:
        """Requests Redis has read from its clients' sockets (a pipeline arrives as one)."""
        return int(self.redis.client().info("stats")["total_reads_processed"])

    def commands(self) -> dict[str, int]:
        """Calls of each command the private Redis has run (INFO commandstats)."""
        stats = self.redis.client().info("commandstats")
        return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


async def replaying(
    test_servers: ServerUrls, redis: Server, **overrides: object
) -> AsyncIterator[Replaying]:
    settings = make_settings(
        test_servers,
        redis_url=f"redis://{redis.address}/0",
        cache_namespace=f"trtestreplay{uuid.uuid4().hex[:8]}",
        answer_replay_s=60,
        **overrides,
    )
    async for app, admin in start_app(settings):
        yield Replaying(app, admin, redis)


@pytest.fixture
async def edge(
    test_servers: ServerUrls, private_redis: Server, network: Network
) -> AsyncIterator[Replaying]:
    async for pair in replaying(test_servers, private_redis):
        yield pair


async def twice(client: httpx.AsyncClient, path: str, **kwargs: object) -> tuple[float, ...]:
    """Ask twice; the answers must be equal. Returns how many of them were replayed."""
    before = replays()
    first = await client.get(path, **kwargs)  # type: ignore[arg-type]
    learned = replays()
    second = await client.get(path, **kwargs)  # type: ignore[arg-type]
    assert first.status_code == 200, (path, first.text)
    assert answer_of(second) == answer_of(first), path
    return learned - before, replays() - learned


@pytest.mark.parametrize("path", ANALYST_READS)
async def test_an_analysts_cached_read_is_the_routes_answer_replayed(
    edge: Replaying, path: str
) -> None:
    served = {"route": path, "method": "GET", "status": "200"}
    before = value("http_requests_total", **served)
    async with edge.client(Role.analyst) as analyst:
        assert await twice(analyst, path) == (0, 1)
    # The edge observes the replayed answer under its route's template, like any other.
    assert value("http_requests_total", **served) == before + 2


@pytest.mark.parametrize("path", PUBLIC_READS)
async def test_a_public_read_is_replayed_with_its_etag(edge: Replaying, path: str) -> None:
    async with edge.client(None) as anonymous:
        assert await twice(anonymous, path) == (0, 1)
        etag = (await anonymous.get(path)).headers["etag"]
        before = replays()
        unchanged = await anonymous.get(path, headers={"If-None-Match": etag})
        assert replays() - before == 1
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag


async def test_a_card_balance_is_replayed_for_staff_and_never_older_than_a_write(
    edge: Replaying,
) -> None:
    card = await new_card(edge.admin)
    path = f"/api/v1/cards/{card}/balance"
    async with edge.client(Role.operator) as operator:
        assert await twice(operator, path) == (0, 1)
        assert (await recharge(edge.admin, card, 7_000)).status_code == 201
        before = replays()
        after_write = await operator.get(path)
        # The write retired the view: the route computes it again, then it is replayed.
        assert after_write.json()["balance"] == 7_000
        assert replays() == before
        assert (await operator.get(path)).json()["balance"] == 7_000
        assert replays() == before + 1


async def test_a_route_learned_from_two_cards_replays_a_third_card_first_asked(
    edge: Replaying,
) -> None:
    first, second, third = [await new_card(edge.admin) for _ in range(3)]
    assert (await recharge(edge.admin, third, 4_000)).status_code == 201
    async with edge.client(Role.operator) as operator:
        for card in (first, second):
            assert await twice(operator, f"/api/v1/cards/{card}/balance") == (0, 1)
        # Each card's answer is in Redis once the route has served it; the third's is now.
        route = await edge.admin.get(f"/api/v1/cards/{third}/balance")
        before = replays()
        replayed = await operator.get(f"/api/v1/cards/{third}/balance")
        assert replays() == before + 1
        assert answer_of(replayed) == answer_of(route)
        assert replayed.json()["balance"] == 4_000
        # After a write, the third card's next answer is the new balance.
        assert (await recharge(edge.admin, third, 1_000)).status_code == 201
        assert (await operator.get(f"/api/v1/cards/{third}/balance")).json()["balance"] == 5_000
        # The same card written differently names a key nobody fills: the route answers it.
        before = replays()
        padded = await operator.get(f"/api/v1/cards/000{third}/balance")
        assert padded.status_code == 200
        assert padded.json()["balance"] == 5_000
        missing = await operator.get(f"/api/v1/cards/{third + 1000}/balance")
        assert missing.status_code == 404
        assert replays() == before


async def test_an_answer_is_replayed_only_to_the_same_credentials(
    edge: Replaying, network: Network
) -> None:
    path = "/api/v1/trips/total"
    async with edge.client(Role.analyst) as analyst:
        assert await twice(analyst, path) == (0, 1)
    before = replays()
    # Another analyst learns their own; a rider, a device and nobody are refused by the route.
    async with edge.client(Role.analyst, account_id=2) as other:
        assert await twice(other, path) == (0, 1)
    for role, status in ((Role.rider, 403), (Role.validator, 403), (None, 401)):
        claims = {"user_id": 1} if role is Role.rider else {}
        async with edge.client(role, **claims) as caller:
            for _ in range(2):
                assert (await caller.get(path)).status_code == status
    async with client_for(edge.app, {"Authorization": "Bearer not-a-token"}) as forged:
        assert (await forged.get(path)).status_code == 401
    assert replays() - before == 1


async def test_a_rider_reading_their_own_card_always_runs_the_route(edge: Replaying) -> None:
    """Ownership is the route's question (a database read), so it is never answered at the
    edge; a staff role's access is a property of the token alone."""
    user = (await edge.admin.post("/api/v1/users", json=_user())).json()["user_id"]
    created = await edge.admin.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": user}
    )
    path = f"/api/v1/cards/{created.json()['card_id']}/balance"
    before = replays()
    async with edge.client(Role.rider, user_id=user) as owner:
        for _ in range(3):
            assert (await owner.get(path)).status_code == 200
    async with edge.client(Role.rider, user_id=user + 1000) as stranger:
        for _ in range(2):
            assert (await stranger.get(path)).status_code == 403
    assert replays() == before


async def test_an_answer_shaped_for_the_caller_is_not_replayed(edge: Replaying) -> None:
    """An analyst sees the latest rider's initials: not the cached view's bytes as they are."""
    assert (await edge.admin.post("/api/v1/users", json=_user())).status_code == 201
    async with edge.client(Role.analyst) as analyst:
        assert await twice(analyst, "/api/v1/users/latest") == (0, 0)
    # The admin's answer is the view itself.
    assert await twice(edge.admin, "/api/v1/users/latest") == (0, 1)


async def test_a_replayed_answer_costs_one_redis_round_trip(edge: Replaying) -> None:
    path = "/api/v1/trips/total"
    async with edge.client(Role.analyst) as analyst:
        assert await twice(analyst, path) == (0, 1)
        before, reads_before = edge.commands(), edge.reads()
        for _ in range(5):
            assert (await analyst.get(path)).status_code == 200
    after, reads = edge.commands(), edge.reads() - reads_before
    ran = {name: after[name] - before.get(name, 0) for name in after}
    # Two scripts a request: the limiter's (one TIME; ZSCORE, ZREMRANGEBYSCORE and ZADD for
    # the principal's bucket and the address's) and the view's PEEK (one TIME; GET the token
    # and the value); nothing else. INFO is this test's own question.
    scripts = {"zscore": 10, "zremrangebyscore": 10, "zadd": 10, "get": 10, "time": 10}
    assert {name: n for name, n in ran.items() if n and name != "info"} == {
        "evalsha": 10,
        **scripts,
    }
    # Sent together: Redis read one request a replay (two apart would make 10), and this
    # test's two INFO questions after the first count.
    assert reads == 5 + 2


async def test_the_rate_limit_counts_a_replayed_request_once(
    test_servers: ServerUrls, private_redis: Server, network: Network
) -> None:
    limits = {"analytics": {"principal": "5/minute"}}
    async for edge in replaying(test_servers, private_redis, rate_limits=limits):
        path = "/api/v1/trips/total"
        async with edge.client(Role.analyst) as analyst:
            statuses = [(await analyst.get(path)).status_code for _ in range(2)]
            # Admitted at the edge, then sent on to the route (its view was retired): that
            # route must not count it a second time.
            await edge.app.state.cache.invalidate("analytics")
            statuses += [(await analyst.get(path)).status_code for _ in range(5)]
        assert statuses == [200] * 5 + [429] * 2
        assert replays() > 0


async def test_with_redis_gone_a_learned_answer_comes_from_postgresql(edge: Replaying) -> None:
    path = "/api/v1/stations/02000/details"
    async with edge.client(None) as anonymous:
        learned = await anonymous.get(path)
        assert await twice(anonymous, path) == (1, 1)
        edge.redis.kill()
        before = replays()
        for _ in range(3):
            assert answer_of(await anonymous.get(path)) == answer_of(learned)
    assert replays() == before


def _user() -> dict[str, str]:
    return {"full_name": "Ana María Rojas", "document_id": f"CC-{uuid.uuid4().hex[:12]}"}
