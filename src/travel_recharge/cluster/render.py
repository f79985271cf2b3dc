"""The servers' configuration files, for the one-machine lab and for real hosts alike.

One function per file (patroni.yml, etcd's settings, haproxy.cfg, redis.conf,
sentinel.conf), given the nodes and a Profile: the lab profile has short timings so a
failover takes seconds and trusts loopback connections; the production profile keeps
Patroni's and Sentinel's usual timings and asks for scram-sha-256 passwords. Rendering the
lab and the deploy examples with the same code is what keeps them from drifting apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from travel_recharge.cluster.topology import (
    API_PORT,
    ETCD_CLIENT_PORT,
    ETCD_PEER_PORT,
    MASTER_NAME,
    PATRONI_PORT,
    POSTGRES_PORT,
    READ_PORT,
    REDIS_PORT,
    REPLICATION_USER,
    SCOPE,
    SENTINEL_PORT,
    STATS_PORT,
    SUPERUSER,
    WRITE_PORT,
    Node,
    database_url,
)
from travel_recharge.cluster.yaml_text import YamlValue, to_yaml
from travel_recharge.kit.embedded import APP_ROLE, VALKEY_EVICTION_POLICY, VALKEY_MAXMEMORY_MB

HEALTH_PATH = "/api/v1/health/db"
WRITE_BACKEND = "database-write"
READ_BACKEND = "database-read"
API_BACKEND = "api-nodes"
REWIND_USER = "rewind"


@dataclass(frozen=True)
class Profile:
    name: str
    # Patroni: the leader key lives `ttl` s; each node loops every `loop_wait` s; a DCS or
    # PostgreSQL call is retried for `retry_timeout` s. Patroni's rule: loop_wait +
    # 2 * retry_timeout <= ttl, or a healthy leader may lose its key between two loops.
    ttl: int
    loop_wait: int
    retry_timeout: int
    # pg_hba's method for every client, replication included.
    auth_method: str
    # HAProxy's health checks: every `check_inter_ms`; down after `check_fall` failures,
    # up after `check_rise` successes.
    check_inter_ms: int
    check_fall: int
    check_rise: int
    # Sentinel: a master silent this long is subjectively down.
    sentinel_down_after_ms: int
    sentinel_failover_timeout_ms: int

    def __post_init__(self) -> None:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(f"{self.name}: loop_wait + 2 * retry_timeout must be <= ttl")


# Failover in seconds on one machine. The loopback network is trusted because every "host"
# of the lab is this machine: anyone who can reach 127.0.0.0/8 already runs here.
LAB = Profile(
    name="lab",
    ttl=10,
    loop_wait=1,
    retry_timeout=4,
    auth_method="trust",
    check_inter_ms=1000,
    check_fall=2,
    check_rise=1,
    sentinel_down_after_ms=2000,
    sentinel_failover_timeout_ms=10_000,
)
# Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10): a real network has pauses a
# loopback does not, and a needless failover costs more than a few seconds of waiting.
PRODUCTION = Profile(
    name="production",
    ttl=30,
    loop_wait=10,
    retry_timeout=10,
    auth_method="scram-sha-256",
    check_inter_ms=2000,
    check_fall=3,
    check_rise=2,
    sentinel_down_after_ms=5000,
    sentinel_failover_timeout_ms=60_000,
)


@dataclass(frozen=True)
class PostgresPaths:
    data_dir: str
    bin_dir: str
    socket_dir: str
    pgpass: str


def patroni_config(
    node: Node,
    *,
    etcd: Sequence[Node],
    paths: PostgresPaths,
    client_network: str,
    profile: Profile,
) -> str:
    """patroni.yml of one PostgreSQL node. Passwords are not in it: with scram-sha-256,
    Patroni reads them from PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD,
    PATRONI_REWIND_PASSWORD and PATRONI_RESTAPI_PASSWORD (an environment file)."""
    document: dict[str, YamlValue] = {
        "scope": SCOPE,
        "namespace": "/service/",
        "name": node.name,
        "restapi": {
            "listen": f"{node.address}:{PATRONI_PORT}",
            "connect_address": f"{node.address}:{PATRONI_PORT}",
        },
        # etcd's v3 API (Patroni's `etcd` section speaks the v2 one, off by default in 3.4+).
        "etcd3": {"hosts": [f"{member.address}:{ETCD_CLIENT_PORT}" for member in etcd]},
        "bootstrap": {"dcs": _dynamic_configuration(profile), "initdb": _INITDB},
        "postgresql": {
            "listen": f"{node.address}:{POSTGRES_PORT}",
            "connect_address": f"{node.address}:{POSTGRES_PORT}",
            "data_dir": paths.data_dir,
            "bin_dir": paths.bin_dir,
            "pgpass": paths.pgpass,
            "authentication": {
                "superuser": {"username": SUPERUSER},
                "replication": {"username": REPLICATION_USER},
                # pg_rewind needs only these functions, not a superuser: Patroni grants them.
                "rewind": {"username": REWIND_USER},
            },
            "pg_hba": _pg_hba(client_network, profile.auth_method),
            "parameters": {"unix_socket_directories": paths.socket_dir},
        },
        # A lab has no /dev/watchdog; real hosts use it when present.
        "watchdog": {"mode": "off" if profile is LAB else "automatic"},
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }
    return _header(profile, "Patroni") + to_yaml(document)


_INITDB: list[YamlValue] = [
    {"encoding": "UTF8"},
    {"locale": "C.UTF-8"},
    # Checksums let pg_rewind (and every read) notice a torn page.
    "data-checksums",
]


def _dynamic_configuration(profile: Profile) -> dict[str, YamlValue]:
    """What Patroni writes to etcd once, on bootstrap, and every node then follows."""
    return {
        "ttl": profile.ttl,
        "loop_wait": profile.loop_wait,
        "retry_timeout": profile.retry_timeout,
        # A replica further behind than this (bytes) is never promoted automatically.
        "maximum_lag_on_failover": 1_048_576,
        # A commit is acknowledged once a synchronous standby has it: the loss of the primary
        # loses no acknowledged tap or recharge. Not strict: with no standby left, the primary
        # keeps accepting writes (the loss of the standby must not stop the service).
        "synchronous_mode": True,
        "synchronous_mode_strict": False,
        "synchronous_node_count": 1,
        # Without etcd the leader keeps its role while it can reach every other member.
        "failsafe_mode": True,
        "postgresql": {
            # An old primary rejoins as a replica instead of needing a fresh copy.
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                "wal_level": "replica",
                "hot_standby": "on",
                "wal_log_hints": "on",  # pg_rewind's requirement (checksums are on too)
                "max_connections": 200,  # every worker's primary and replica pools
                "max_wal_senders": 10,
                "max_replication_slots": 10,
                "wal_keep_size": "256MB",
                # Analytics on a replica are not cancelled by the primary's vacuum.
                "hot_standby_feedback": "on",
            },
        },
    }


def _pg_hba(network: str, method: str) -> list[YamlValue]:
    return [
        f"local all all {'trust' if method == 'trust' else 'peer'}",
        f"host all all {network} {method}",
        f"host replication {REPLICATION_USER} {network} {method}",
    ]


def etcd_settings(
    member: Node, *, members: Sequence[Node], data_dir: str, token: str
) -> dict[str, str]:
    """etcd's flags by name (`--name`, ...): a command line here, /etc/default/etcd there."""
    peers = ",".join(f"{m.name}=http://{m.address}:{ETCD_PEER_PORT}" for m in members)
    client_url = f"http://{member.address}:{ETCD_CLIENT_PORT}"
    peer_url = f"http://{member.address}:{ETCD_PEER_PORT}"
    return {
        "name": member.name,
        "data-dir": data_dir,
        "listen-client-urls": client_url,
        "advertise-client-urls": client_url,
        "listen-peer-urls": peer_url,
        "initial-advertise-peer-urls": peer_url,
        "initial-cluster": peers,
        "initial-cluster-token": token,
        "initial-cluster-state": "new",
    }


def haproxy_config(
    *,
    database_nodes: Sequence[Node],
    api_nodes: Sequence[Node],
    database_bind: str,
    front_bind: str,
    profile: Profile,
    log_target: str,
    source_addresses: bool,
) -> str:
    """haproxy.cfg: the write and read database ports (Patroni's REST checks decide which
    node is behind each) and the API front. `source_addresses`: connect from the bind
    addresses (on one machine a loopback connection would otherwise come from 127.0.0.1, and
    the API nodes trust X-Forwarded-For only from the front's address)."""
    check = f"inter {profile.check_inter_ms} fall {profile.check_fall} rise {profile.check_rise}"
    sections = [
        _header(profile, "HAProxy"),
        "global\n    maxconn 4096\n",
        f"    log {log_target} local0 notice\n\n",
        "defaults\n    log global\n    timeout connect 2s\n    timeout check 2s\n",
        "    retries 2\n\n",
    ]
    for name, port, endpoint in (
        (WRITE_BACKEND, WRITE_PORT, "/primary"),
        (READ_BACKEND, READ_PORT, "/replica"),
    ):
        sections.append(
            _database_listener(
                name, f"{database_bind}:{port}", endpoint, database_nodes, check, source_addresses
            )
        )
    sections.append(_api_front(front_bind, api_nodes, check, source_addresses))
    sections.append(
        f"listen stats\n    mode http\n    bind {front_bind}:{STATS_PORT}\n"
        "    stats enable\n    stats uri /\n    stats refresh 5s\n"
    )
    return "".join(sections)


def _database_listener(
    name: str, bind: str, endpoint: str, nodes: Sequence[Node], check: str, source: bool
) -> str:
    lines = [
        f"listen {name}",
        "    mode tcp",
        f"    bind {bind}",
        # Pooled connections stay open for long; TCP keepalives notice a dead peer.
        "    timeout client 30m",
        "    timeout server 30m",
        "    option clitcpka",
        "    option srvtcpka",
        "    balance roundrobin",
        # OPTIONS, as Patroni's own HAProxy example: the same answer as GET without a body,
        # so HAProxy's early close does not cut Patroni off mid-write (a logged traceback).
        f"    option httpchk OPTIONS {endpoint}",
        "    http-check expect status 200",
        # A node that stops being the leader (or a replica) has its sessions cut at once, so
        # no client goes on writing to a demoted primary.
        f"    default-server {check} on-marked-down shutdown-sessions",
    ]
    if source:
        lines.append(f"    source {bind.rsplit(':', 1)[0]}")
    lines += [
        f"    server {n.name} {n.address}:{POSTGRES_PORT} check port {PATRONI_PORT}" for n in nodes
    ]
    return "\n".join(lines) + "\n\n"


def _api_front(bind: str, nodes: Sequence[Node], check: str, source: bool) -> str:
    lines = [
        "frontend api",
        "    mode http",
        f"    bind {bind}:{API_PORT}",
        "    timeout client 30s",
        f"    default_backend {API_BACKEND}",
        "",
        f"backend {API_BACKEND}",
        "    mode http",
        "    balance roundrobin",
        "    timeout server 30s",
        "    timeout http-keep-alive 10s",
        f"    option httpchk GET {HEALTH_PATH}",
        "    http-check expect status 200",
        "    option forwardfor",
        # A request whose connection failed (or got no answer at all) goes to another node:
        # money operations are idempotent (Idempotency-Key, tap_id), so a retry is safe.
        "    option redispatch",
        "    retries 3",
        "    retry-on conn-failure empty-response",
        f"    default-server {check}",
    ]
    if source:
        lines.append(f"    source {bind}")
    lines += [f"    server {n.name} {n.address}:{API_PORT} check" for n in nodes]
    return "\n".join(lines) + "\n\n"


def redis_config(node: Node, *, directory: str, master: Node | None, profile: Profile) -> str:
    """redis.conf of a cache node: a master, or a replica of `master`."""
    lines = [
        f"bind {node.address}",
        f"port {REDIS_PORT}",
        "daemonize no",
        f'dir "{directory}"',
        # A cache: nothing to persist (a restarted node resyncs from the master).
        'save ""',
        "appendonly no",
        f"maxmemory {VALKEY_MAXMEMORY_MB}mb",
        f"maxmemory-policy {VALKEY_EVICTION_POLICY}",
        # What the master and the Sentinels are told this replica's address is.
        f"replica-announce-ip {node.address}",
    ]
    if master is not None:
        lines.append(f"replicaof {master.address} {REDIS_PORT}")
    return _header(profile, "Redis") + "\n".join(lines) + "\n"


def sentinel_config(
    node: Node, *, directory: str, master: Node, quorum: int, profile: Profile
) -> str:
    """sentinel.conf; Sentinel rewrites this file itself as it learns (keep it writable)."""
    name = MASTER_NAME
    lines = [
        f"bind {node.address}",
        f"port {SENTINEL_PORT}",
        "daemonize no",
        f'dir "{directory}"',
        f"sentinel announce-ip {node.address}",
        f"sentinel monitor {name} {master.address} {REDIS_PORT} {quorum}",
        f"sentinel down-after-milliseconds {name} {profile.sentinel_down_after_ms}",
        f"sentinel failover-timeout {name} {profile.sentinel_failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1",
    ]
    return _header(profile, "Redis Sentinel") + "\n".join(lines) + "\n"


def api_environment(
    *,
    database_proxy: str,
    sentinels: Sequence[Node],
    front: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The TR_* settings of an API node: the database roles through HAProxy's ports, the
    cache through the Sentinels, the front as the only proxy whose X-Forwarded-For counts."""
    environment = {
        "TR_DATABASE_URL": database_url(database_proxy, APP_ROLE, WRITE_PORT),
        "TR_DATABASE_REPLICA_URL": database_url(database_proxy, APP_ROLE, READ_PORT),
        "TR_DATABASE_MIGRATION_URL": database_url(database_proxy, SUPERUSER, WRITE_PORT),
        "TR_REDIS_SENTINELS": json.dumps([f"{s.address}:{SENTINEL_PORT}" for s in sentinels]),
        "TR_REDIS_MASTER_NAME": MASTER_NAME,
        "TR_TRUSTED_PROXIES": json.dumps([front]),
    }
    return environment | dict(extra or {})


def _header(profile: Profile, what: str) -> str:
    return (
        f"# {what} configuration written by `travel-recharge cluster` ({profile.name} profile).\n"
        "# Generated: edit the renderer (travel_recharge/cluster/render.py), not this file.\n"
    )
