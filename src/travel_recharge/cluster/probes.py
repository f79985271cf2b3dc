"""The questions the status asks, each of one server, each with a short timeout.

Patroni's REST API, etcd's /health, INFO replication of a Redis server, a Sentinel's
`get-master-addr-by-name`, HAProxy's stats as CSV: a server that does not answer in time is
reported as not answering (None, False, nothing), never waited on.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import redis

from travel_recharge.cluster.topology import (
    ETCD_CLIENT_PORT,
    MASTER_NAME,
    REDIS_PORT,
    SENTINEL_PORT,
    Node,
    Topology,
)

TIMEOUT_S = 1.5


def get_json(http: httpx.Client, url: str) -> Any:
    try:
        response = http.get(url)
        return response.json() if response.status_code < 500 else None
    except (httpx.HTTPError, ValueError):
        return None


def status_code(http: httpx.Client, url: str) -> int | None:
    try:
        return http.get(url).status_code
    except httpx.HTTPError:
        return None


def etcd_healthy(http: httpx.Client, etcd: Node) -> bool:
    body = get_json(http, f"http://{etcd.address}:{ETCD_CLIENT_PORT}/health")
    return isinstance(body, dict) and body.get("health") == "true"


def patroni_members(http: httpx.Client, topology: Topology) -> list[dict[str, Any]]:
    """Patroni's members as the first node that answers sees them (from etcd)."""
    for node in topology.postgres:
        body = get_json(http, topology.patroni_url(node) + "/cluster")
        if isinstance(body, dict) and body.get("members"):
            return list(body["members"])
    return []


def members_from_nodes(http: httpx.Client, topology: Topology) -> list[dict[str, Any]]:
    """Each node's own word (GET /patroni) when etcd is gone and /cluster knows no one: with
    failsafe_mode the leader goes on leading, and this is how to see it. No lag then."""
    found = []
    for node in topology.postgres:
        url = topology.patroni_url(node) + "/patroni"
        body = get_json(http, url)
        if not isinstance(body, dict) or "role" not in body:
            continue
        role = "leader" if body["role"] in ("master", "primary") else str(body["role"])
        if role == "replica" and body.get("sync_standby"):
            role = "sync_standby"
        state, timeline = body.get("state"), body.get("timeline")
        found.append(
            {"name": node.name, "role": role, "state": state, "timeline": timeline, "api_url": url}
        )
    return found


def _redis_client(address: str, port: int) -> redis.Redis:
    return redis.Redis(
        host=address, port=port, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
    )


def redis_replication(address: str) -> dict[str, Any] | None:
    """INFO replication of the Redis server at `address` (None: it does not answer)."""
    client = _redis_client(address, REDIS_PORT)
    try:
        info: dict[str, Any] = client.info("replication")
        return info
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def sentinel_master(address: str) -> str | None:
    """host:port of the master the Sentinel at `address` names (None: no answer, or none)."""
    client = _redis_client(address, SENTINEL_PORT)
    try:
        answer = client.sentinel_get_master_addr_by_name(MASTER_NAME)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    if not isinstance(answer, tuple):  # no master known (yet)
        return None
    host, port = answer
    host = host.decode() if isinstance(host, bytes) else host
    return f"{host}:{port}"


def haproxy_servers(http: httpx.Client, stats_url: str) -> dict[str, str]:
    try:
        response = http.get(stats_url + ";csv")
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
    return {
        f"{row['pxname']}/{row['svname']}": row["status"]
        for row in rows
        if row["svname"] not in ("FRONTEND", "BACKEND")
    }
