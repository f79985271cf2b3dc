"""The cache through Redis Sentinel: it follows a failover without a restart, answers every
request meanwhile, never serves a card view older than an acknowledged write afterwards, and
reports the master and the cache epoch.

Real processes only: a master, two replicas and three Sentinels (tests.kit.redis_sentinels),
the app in process as the suite builds it but configured with the Sentinels, the suite's
PostgreSQL, and `travel-recharge serve` itself for the launcher's part.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import Network, ServerUrls, make_settings, start_app
from tests.kit.redis_sentinels import (
    DEADLINE_S,
    RedisGroup,
    epoch_of,
    running_group,
)
from tests.money import balance, new_card, recharge, tap
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.config import Settings

T = TypeVar("T")


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisGroup]:
    yield from running_group(tmp_path_factory.mktemp("sentinels"))


@pytest.fixture
def healthy(group: RedisGroup) -> RedisGroup:
    """The group with a master and two replicas again (a test before may have killed one)."""
    group.restore()
    return group


def sentinel_settings(test_servers: ServerUrls, group: RedisGroup) -> Settings:
    return make_settings(
        test_servers,
        redis_url=None,
        redis_sentinels=group.sentinel_addresses,
        cache_namespace=f"{test_servers.namespace}-sentinel",
        # Back to Redis soon after a promotion (the default pause is 5 s).
        redis_breaker_reset_s=1.0,
    )


@pytest.fixture
async def sentinel_app(
    test_servers: ServerUrls, healthy: RedisGroup
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in start_app(sentinel_settings(test_servers, healthy)):
        yield pair


@pytest.fixture
async def unfenced_app(
    test_servers: ServerUrls, healthy: RedisGroup
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The same app with the cache epoch off: every master's keys get the same names."""
    async for app, client in start_app(sentinel_settings(test_servers, healthy)):
        cache: Cache = app.state.cache
        cache.fence.enabled = False
        await cache.redis.connection_pool.disconnect()  # none made before the switch stays
        yield app, client


async def until(what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
    """probe()'s first answer that is not None; AssertionError after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {DEADLINE_S} s")
        await asyncio.sleep(0.02)
    return found


def card_key(namespace: str, epoch: str, card_id: int, suffix: str) -> str:
    return f"{namespace}:v1:{epoch}:cards:{card_id}:{suffix}"


async def funded_card(client: httpx.AsyncClient, network: Network, amount: int) -> int:
    card_id = await new_card(client)
    assert (await recharge(client, card_id, amount, point=network.counter)).status_code == 201
    return card_id


async def stored_balance(app: FastAPI, card_id: int) -> int:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(
            "SELECT balance FROM cards WHERE id = $1", (card_id,)
        )
        return int(result.scalar_one())


# --- the epoch on one connection ----------------------------------------------------------------


async def test_a_connection_stamps_its_servers_epoch_and_nothing_once_disconnected(
    test_servers: ServerUrls,
) -> None:
    """Keys get the epoch of the server the connection reached; a connection that lost its
    server packs none of our keys (redis-py would reconnect after packing, maybe elsewhere)."""
    cache = Cache.from_settings(make_settings(test_servers))
    pool = cache.redis.connection_pool
    try:
        connection = await pool.get_connection()
        try:
            replid = (await cache.redis.info("replication"))["master_replid"]
            key = cache.key("cards:1:gen")
            packed = b"".join(connection.pack_command("GET", key))
            assert f"{test_servers.namespace}:v1:{replid[:12]}:cards:1:gen".encode() in packed
            assert b"{epoch}" not in packed
            await connection.disconnect()
            with pytest.raises(RedisConnectionError, match="epoch"):
                connection.pack_command("GET", key)
            assert b"rl:x" in b"".join(connection.pack_command("GET", "rl:x"))  # not ours
        finally:
            await pool.release(connection)
    finally:
        await cache.close()


# --- (c) health --------------------------------------------------------------------------------


async def test_health_names_the_master_and_the_epoch(
    sentinel_app: tuple[FastAPI, httpx.AsyncClient], healthy: RedisGroup
) -> None:
    _, client = sentinel_app
    master = healthy.master()
    expected = {"role": "master", "master": master.address, "epoch": epoch_of(master)}

    cache = (await client.get("/api/v1/health/cache")).json()
    overall = (await client.get("/api/v1/health")).json()["components"]["cache"]
    ops = (await client.get("/api/v1/cache/health")).json()
    for answer in (cache, overall):
        assert answer == {"status": "ok", "latency_ms": answer["latency_ms"], "detail": None} | (
            expected
        )
        assert answer["latency_ms"] >= 0
    assert {name: ops[name] for name in expected} == expected
    # The rate limiter counted these requests on the same master, outside the epoch.
    limiter_keys = list(master.client().scan_iter(match="rl:*-sentinel:*", count=1000))
    assert limiter_keys
    assert all(expected["epoch"] not in key.decode() for key in limiter_keys)


# --- (a) a failover under load -----------------------------------------------------------------


@dataclass
class Load:
    """Riders tapping and recharging their own cards, each write followed by two reads of the
    card's balance: every answer must be a success, and every read must show the balance the
    rider's last acknowledged write returned (one writer a card: nothing else can move it)."""

    client: httpx.AsyncClient
    network: Network
    problems: list[str]
    requests: int = 0
    slowest_s: float = 0.0

    async def ride(self, card_id: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            tapped = await self._timed(
                tap(self.client, card_id, station_id=self.network.trunk_station)
            )
            if tapped.status_code != 201:
                self.problems.append(f"tap {card_id}: {tapped.status_code} {tapped.text}")
                return
            await self._read_twice(card_id, tapped.json()["balance_after"])
            fare = tapped.json()["fare_charged"]
            paid = await self._timed(
                recharge(self.client, card_id, fare, point=self.network.counter)
            )
            if paid.status_code != 201:
                self.problems.append(f"recharge {card_id}: {paid.status_code} {paid.text}")
                return
            await self._read_twice(card_id, paid.json()["new_balance"])

    async def _read_twice(self, card_id: int, acknowledged: int) -> None:
        # The first read after a write misses and fills; the second can be a hit.
        for _ in range(2):
            answer = await self._timed(self.client.get(f"/api/v1/cards/{card_id}/balance"))
            if answer.status_code != 200 or answer.json()["balance"] != acknowledged:
                self.problems.append(
                    f"read {card_id}: {answer.status_code} {answer.text} after {acknowledged}"
                )

    async def _timed(self, request: Awaitable[httpx.Response]) -> httpx.Response:
        started = time.monotonic()
        response = await request
        self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        self.requests += 1
        return response


async def test_the_app_follows_a_failover_under_load_and_no_request_fails(
    sentinel_app: tuple[FastAPI, httpx.AsyncClient],
    healthy: RedisGroup,
    network: Network,
    test_servers: ServerUrls,
) -> None:
    app, client = sentinel_app
    cache: Cache = app.state.cache
    old = healthy.master()
    old_epoch = epoch_of(old)
    cards = [await funded_card(client, network, 10_000) for _ in range(4)]
    load = Load(client, network, problems=[])
    stop = asyncio.Event()
    riders = [asyncio.create_task(load.ride(card, stop)) for card in cards]

    async def hits_past(count: int) -> int | None:
        hits = cache.stats.hits["cards"]
        return hits if hits >= count or load.problems else None

    try:
        before_kill = await until("card reads answered by the first master", lambda: hits_past(20))
        errors_before = cache.stats.errors + cache.stats.skipped_open_circuit
        killed_at = time.monotonic()
        old.kill()
        await asyncio.to_thread(healthy.wait_for_failover, old)
        promoted_at = time.monotonic()
        after_promotion = cache.stats.hits["cards"]
        await until(
            "card reads answered by the new master", lambda: hits_past(after_promotion + 20)
        )
        back_at = time.monotonic()
    finally:
        stop.set()
        await asyncio.gather(*riders)

    assert load.problems == []
    # The outage was real: calls failed or were skipped by the breaker meanwhile, and reads
    # went on (from PostgreSQL) between the kill and the cache's return.
    assert cache.stats.errors + cache.stats.skipped_open_circuit > errors_before
    assert before_kill >= 20
    # The master now (a second failover may have followed the first: the app follows both).
    current = await asyncio.to_thread(healthy.master)
    assert current is not old
    assert epoch_of(current) != old_epoch

    async def following() -> dict[str, object] | None:
        body: dict[str, object] = (await client.get("/api/v1/health/cache")).json()
        return body if (body["status"], body["master"]) == ("ok", current.address) else None

    health = await until("the app to report the promoted master", following)
    assert (health["role"], health["epoch"]) == ("master", epoch_of(current))
    for card in cards:
        stored = await stored_balance(app, card)
        assert [await balance(client, card), await balance(client, card)] == [stored, stored]
    # Served from the promoted master's keyspace under its own epoch, while the old epoch's
    # keys it replicated are still there, unused.
    namespace = f"{test_servers.namespace}-sentinel"
    keys = current.client()
    for card in cards:
        assert keys.exists(card_key(namespace, epoch_of(current), card, "f:balance")) == 1
    assert list(keys.scan_iter(match=f"{namespace}:v1:{old_epoch}:cards:*", count=1000))
    print(
        f"\nfailover under load: {load.requests} requests, 0 failed, slowest "
        f"{load.slowest_s * 1000:.0f} ms; promoted {promoted_at - killed_at:.1f} s after the "
        f"kill, cache hits again {back_at - promoted_at:.1f} s after the promotion"
    )


# --- (b) an invalidation the old master acknowledged and lost ----------------------------------


@dataclass(frozen=True)
class LostInvalidation:
    before: int  # the cached balance the lost invalidation should have retired
    after: int  # the tap's balance, acknowledged to the client and stored in PostgreSQL
    stored: int  # PostgreSQL's balance once the failover is over
    served: list[int]  # every balance read after the failover, until one came from the cache


async def lose_an_invalidation(
    app: FastAPI, client: httpx.AsyncClient, group: RedisGroup, network: Network
) -> LostInvalidation:
    """Cache a card's balance on every node, cut the replicas off, tap (the master alone
    takes the card's new generation token), kill -9 the master, let Sentinel promote a
    replica, then read the balance until the cache answers it."""
    cache: Cache = app.state.cache
    card = await funded_card(client, network, 10_000)
    before = await balance(client, card)
    hits = cache.stats.hits["cards"]
    assert await balance(client, card) == before
    assert cache.stats.hits["cards"] == hits + 1, "the balance is not cached"

    master = group.master()
    replicas = [node for node in group.nodes if node is not master]
    assert cache.fence.current is not None
    token_key = card_key(app.state.settings.cache_namespace, cache.fence.current, card, "gen")
    on_master = master.client()
    cached_token = on_master.get(token_key)
    assert cached_token is not None
    # A write of our own after the app's: once both replicas acknowledge it, they hold
    # everything before it too (WAIT counts only this connection's writes).
    on_master.set(f"{app.state.settings.cache_namespace}:replicated", b"1")
    assert on_master.wait(2, 10_000) == 2

    for replica in replicas:
        replica.signal(signal.SIGSTOP)
    try:
        # Stopped, they cannot connect again: what the master acknowledges now is its alone.
        assert on_master.execute_command("CLIENT", "KILL", "TYPE", "replica") == 2
        tapped = await tap(client, card, station_id=network.trunk_station)
        assert tapped.status_code == 201, tapped.text
        after = int(tapped.json()["balance_after"])
        assert cache.unpaid_invalidations == 0, "the master did not acknowledge the invalidation"
        assert on_master.get(token_key) not in (None, cached_token)
        master.kill()
    finally:
        for replica in replicas:
            replica.signal(signal.SIGCONT)
    promoted = await asyncio.to_thread(group.wait_for_failover, master)
    assert promoted.client().get(token_key) == cached_token, "the invalidation was not lost"

    served: list[int] = []

    async def read_from_cache() -> int | None:
        hits = cache.stats.hits["cards"]
        served.append(await balance(client, card))
        return served[-1] if cache.stats.hits["cards"] > hits else None

    await until("a balance read answered from the cache", read_from_cache)
    return LostInvalidation(before, after, await stored_balance(app, card), served)


async def test_no_card_view_older_than_an_acknowledged_write_after_a_failover(
    sentinel_app: tuple[FastAPI, httpx.AsyncClient], healthy: RedisGroup, network: Network
) -> None:
    app, client = sentinel_app
    lost = await lose_an_invalidation(app, client, healthy, network)
    assert lost.after == lost.stored != lost.before
    assert set(lost.served) == {lost.stored}
    assert app.state.cache.fence.current == epoch_of(healthy.master())


async def test_control_without_the_epoch_the_promoted_replica_serves_the_stale_view(
    unfenced_app: tuple[FastAPI, httpx.AsyncClient], healthy: RedisGroup, network: Network
) -> None:
    """The fault the epoch prevents is real, and the test above can see it."""
    app, client = unfenced_app
    lost = await lose_an_invalidation(app, client, healthy, network)
    assert lost.after == lost.stored != lost.before
    assert lost.served[-1] == lost.before
