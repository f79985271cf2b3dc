"""A benchmark's server leaves no rate-limit state behind: those sets have no TTL."""

from __future__ import annotations

import uuid

import redis

from tests.conftest import ServerUrls
from travel_recharge.bench.server import _drop_limiter_state
from travel_recharge.security.rate_limit import state_prefix


def test_the_limiter_sets_of_a_benchmarks_namespace_are_dropped(test_servers: ServerUrls) -> None:
    ours, other = f"bench{uuid.uuid4().hex[:8]}", f"{test_servers.namespace}kept"
    client = redis.Redis.from_url(test_servers.redis_url)
    try:
        for namespace in (ours, other):
            client.zadd(f"{state_prefix(namespace)}taps:ip", {"caller": 1})
        _drop_limiter_state(test_servers.redis_url, ours)
        _drop_limiter_state(test_servers.redis_url, None)  # the default namespace: untouched
        _drop_limiter_state("redis://127.0.0.1:1/0", ours)  # unreachable: no error
        assert client.exists(f"{state_prefix(ours)}taps:ip") == 0
        assert client.exists(f"{state_prefix(other)}taps:ip") == 1
    finally:
        client.delete(f"{state_prefix(other)}taps:ip")
        client.close()
