"""The servers' configuration files, for the one-machine lab and for real hosts alike.

One function per file (patroni.yml, etcd's settings, redis.conf, sentinel.conf; haproxy.cfg
is haproxy.py's) and the API nodes' settings, given the nodes and a Profile (profiles.py).
Rendering the lab and the deploy examples with the same code is what keeps them from
drifting apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from travel_recharge.cluster.profiles import Profile, generated_header
from travel_recharge.cluster.topology import (
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
    SUPERUSER,
    WRITE_PORT,
    Node,
    database_url,
)
from travel_recharge.cluster.yaml_text import YamlValue, to_yaml
from travel_recharge.kit.embedded import APP_ROLE, VALKEY_EVICTION_POLICY, VALKEY_MAXMEMORY_MB

REWIND_USER = "rewind"


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
    comment: str = "",
) -> str:
    """patroni.yml of one PostgreSQL node. Passwords are not in it: with scram-sha-256,
    Patroni reads them from PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD,
    PATRONI_REWIND_PASSWORD and PATRONI_RESTAPI_PASSWORD (an environment file, which
    `comment` may name)."""
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
        "watchdog": {"mode": profile.watchdog},
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }
    return generated_header(profile, "Patroni") + comment + to_yaml(document)


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
    member: Node, *, members: Sequence[Node], data_dir: str, cluster_id: str
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
        # Not a secret: it keeps members of different clusters from joining each other.
        "initial-cluster-token": cluster_id,
        "initial-cluster-state": "new",
        "logger": "zap",  # etcd 3.4's structured logger (its old one is deprecated)
    }


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
    return generated_header(profile, "Redis") + "\n".join(lines) + "\n"


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
    return generated_header(profile, "Redis Sentinel") + "\n".join(lines) + "\n"


def api_environment(
    *,
    database_proxy: str,
    sentinels: Sequence[Node],
    front: str,
    with_owner: bool,
) -> dict[str, str]:
    """The TR_* settings of an API node: the database roles through HAProxy's ports, the
    cache through the Sentinels, the front as the only proxy whose X-Forwarded-For counts.
    `with_owner`: also the schema owner's URL (the lab's; real hosts keep it to the release
    step that runs `travel-recharge migrate`)."""
    environment = {
        "TR_DATABASE_URL": database_url(database_proxy, APP_ROLE, WRITE_PORT),
        "TR_DATABASE_REPLICA_URL": database_url(database_proxy, APP_ROLE, READ_PORT),
        "TR_REDIS_SENTINELS": _json([f"{s.address}:{SENTINEL_PORT}" for s in sentinels]),
        "TR_REDIS_MASTER_NAME": MASTER_NAME,
        "TR_TRUSTED_PROXIES": _json([front]),
    }
    if with_owner:
        environment["TR_DATABASE_MIGRATION_URL"] = database_url(
            database_proxy, SUPERUSER, WRITE_PORT
        )
    return environment


def _json(values: list[str]) -> str:
    # Compact: an environment file's value is the rest of its line, spaces and all.
    return json.dumps(values, separators=(",", ":"))
