"""A benchmark's server leaves nothing of its namespace behind: the rate-limit sets have no
TTL, and its views' generation tokens live a day."""

from __future__ import annotations

import uuid

import redis

from tests.conftest import ServerUrls
from travel_recharge.bench.server import _drop_namespace_state
from travel_recharge.security.rate_limit import state_prefix


def test_the_keys_of_a_benchmarks_namespace_are_dropped(test_servers: ServerUrls) -> None:
    ours, other = f"bench{uuid.uuid4().hex[:8]}", f"{test_servers.namespace}kept"
    client = redis.Redis.from_url(test_servers.redis_url)
    try:
        for namespace in (ours, other):
            client.zadd(f"{state_prefix(namespace)}taps:ip", {"caller": 1})
            client.set(f"{namespace}:v1:0a1b2c3d4e5f:cards:7:gen", "token", ex=600)
        _drop_namespace_state(test_servers.redis_url, ours)
        _drop_namespace_state(test_servers.redis_url, None)  # the default namespace: untouched
        _drop_namespace_state("redis://127.0.0.1:1/0", ours)  # unreachable: no error
        assert client.exists(f"{state_prefix(ours)}taps:ip") == 0
        assert client.exists(f"{ours}:v1:0a1b2c3d4e5f:cards:7:gen") == 0
        assert client.exists(f"{state_prefix(other)}taps:ip") == 1
        assert client.exists(f"{other}:v1:0a1b2c3d4e5f:cards:7:gen") == 1
    finally:
        client.delete(f"{state_prefix(other)}taps:ip", f"{other}:v1:0a1b2c3d4e5f:cards:7:gen")
        client.close()
