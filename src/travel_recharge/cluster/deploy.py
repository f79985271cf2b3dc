"""The configuration of a cluster on real hosts, from a small hosts description.

`travel-recharge cluster render --hosts hosts.toml --out DIR` writes, for each host, the
files it needs at the paths Debian's packages read them from (their systemd units come with
the packages; only the API node's unit is ours):

    <db host>/etc/patroni/config.yml        Patroni + PostgreSQL 15 (patroni.service)
    <db host>/etc/default/etcd              an etcd member: three, one per database host
    <redis host>/etc/redis/redis.conf       Redis: the first host starts as the master
    <redis host>/etc/redis/sentinel.conf    a Sentinel beside each Redis
    <haproxy host>/etc/haproxy/haproxy.cfg  database write/read ports and the API front
    <api host>/etc/travel-recharge/env      the node's TR_* settings (no secrets)
    <api host>/etc/systemd/system/travel-recharge.service

The same renderer as the lab (render.py, haproxy.py) with the production profile: Patroni's
usual timings and scram-sha-256. No secret is written: passwords and the signing key go in
files the operator makes (named in each file's comments).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from travel_recharge.cluster.haproxy import haproxy_config
from travel_recharge.cluster.profiles import PRODUCTION, generated_header
from travel_recharge.cluster.render import (
    PostgresPaths,
    api_environment,
    etcd_settings,
    patroni_config,
    redis_config,
    sentinel_config,
)
from travel_recharge.cluster.topology import API_PORT, Kind, Node

# Debian's places for PostgreSQL 15 run by Patroni (as the postgres user).
DEPLOY_POSTGRES = PostgresPaths(
    data_dir="/var/lib/postgresql/15/travel-recharge",
    bin_dir="/usr/lib/postgresql/15/bin",
    socket_dir="/var/run/postgresql",
    pgpass="/var/lib/postgresql/.pgpass_patroni",
)
INSTALL_DIR = "/opt/travel-recharge"


class HostsProblem(ValueError):
    """The hosts description cannot make a cluster (says which entry and why)."""


@dataclass(frozen=True)
class Hosts:
    clients: str  # the network allowed to reach PostgreSQL (HAProxy and API hosts)
    workers: int
    database: tuple[Node, ...]
    redis: tuple[Node, ...]
    api: tuple[Node, ...]
    haproxy: Node


def load_hosts(path: Path) -> Hosts:
    """Read hosts.toml: `clients` (a CIDR), `workers`, and the tables [database], [redis],
    [api], [haproxy] of name = "address"."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HostsProblem(f"{path}: {exc}") from None
    try:
        clients = str(ipaddress.ip_network(str(data.get("clients", ""))))
    except ValueError:
        raise HostsProblem("clients: not a network such as 10.0.0.0/16") from None
    workers = data.get("workers", 1)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise HostsProblem("workers: not a whole number 1-64")
    [haproxy] = _nodes(data, "haproxy", Kind.haproxy, exactly=1)
    return Hosts(
        clients=clients,
        workers=workers,
        database=_nodes(data, "database", Kind.postgres, exactly=3),
        redis=_nodes(data, "redis", Kind.redis, exactly=3),
        api=_nodes(data, "api", Kind.api, exactly=None),
        haproxy=haproxy,
    )


def _nodes(
    data: Mapping[str, Any], table: str, kind: Kind, exactly: int | None
) -> tuple[Node, ...]:
    entries = data.get(table)
    if not isinstance(entries, dict) or not entries:
        raise HostsProblem(f'[{table}]: missing (name = "address" lines)')
    if exactly is not None and len(entries) != exactly:
        raise HostsProblem(f"[{table}]: {len(entries)} hosts, this layout takes {exactly}")
    nodes = []
    for name, address in entries.items():
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            raise HostsProblem(f"[{table}] {name}: {address!r} is not an IP address") from None
        if not name.replace("-", "").isalnum():
            raise HostsProblem(f"[{table}] {name}: use letters, digits and -")
        nodes.append(Node(name, kind, str(address)))
    return tuple(nodes)


def render_hosts(hosts: Hosts) -> dict[str, str]:
    """Every file of every host, by its path under the output directory."""
    files: dict[str, str] = {}
    etcd_members = [Node(node.name, Kind.etcd, node.address) for node in hosts.database]
    for node, member in zip(hosts.database, etcd_members, strict=True):
        files[f"{node.name}/etc/patroni/config.yml"] = _patroni(node, etcd_members, hosts)
        files[f"{node.name}/etc/default/etcd"] = _etcd(member, etcd_members)
    master = hosts.redis[0]
    for node in hosts.redis:
        directory = "/var/lib/redis"
        replica_of = None if node == master else master
        files[f"{node.name}/etc/redis/redis.conf"] = redis_config(
            node, directory=directory, master=replica_of, profile=PRODUCTION
        )
        files[f"{node.name}/etc/redis/sentinel.conf"] = sentinel_config(
            node,
            directory=directory,
            master=master,
            quorum=len(hosts.redis) // 2 + 1,
            profile=PRODUCTION,
        )
    files[f"{hosts.haproxy.name}/etc/haproxy/haproxy.cfg"] = haproxy_config(
        database_nodes=hosts.database,
        api_nodes=hosts.api,
        database_bind=hosts.haproxy.address,
        front_bind=hosts.haproxy.address,
        profile=PRODUCTION,
        log_target="/dev/log",
        source_addresses=False,
        run_as="haproxy",
    )
    for node in hosts.api:
        files[f"{node.name}/etc/travel-recharge/env"] = _api_environment(hosts)
        files[f"{node.name}/etc/systemd/system/travel-recharge.service"] = _api_unit(node, hosts)
    return files


def _patroni(node: Node, etcd: list[Node], hosts: Hosts) -> str:
    secrets = (
        "# Passwords: /etc/patroni_env.conf (mode 0600, read by patroni.service) sets\n"
        "# PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD, PATRONI_REWIND_PASSWORD,\n"
        "# PATRONI_RESTAPI_USERNAME and PATRONI_RESTAPI_PASSWORD.\n"
    )
    return patroni_config(
        node,
        etcd=etcd,
        paths=DEPLOY_POSTGRES,
        client_network=hosts.clients,
        profile=PRODUCTION,
        comment=secrets,
    )


def _etcd(member: Node, members: list[Node]) -> str:
    settings = etcd_settings(
        member,
        members=members,
        data_dir="/var/lib/etcd/travel-recharge",
        cluster_id="travel-recharge",
    )
    lines = [f"ETCD_{name.upper().replace('-', '_')}={value}" for name, value in settings.items()]
    where = "# Read by Debian's etcd.service (EnvironmentFile=/etc/default/etcd).\n"
    return generated_header(PRODUCTION, "etcd") + where + "\n".join(lines) + "\n"


def _api_environment(hosts: Hosts) -> str:
    settings = {"TR_ENV": "production"} | api_environment(
        database_proxy=hosts.haproxy.address,
        sentinels=hosts.redis,
        front=hosts.haproxy.address,
        with_owner=False,
    )
    lines = [f"{name}={value}" for name, value in settings.items()]
    secrets = (
        "# Secrets: /etc/travel-recharge/secrets.env (mode 0600) sets TR_AUTH_SIGNING_KEY (the\n"
        "# same on every API node) and PGPASSWORD (the travel_recharge_app role's).\n"
    )
    return generated_header(PRODUCTION, "API node") + secrets + "\n".join(lines) + "\n"


def _api_unit(node: Node, hosts: Hosts) -> str:
    serve = f"{INSTALL_DIR}/.venv/bin/travel-recharge serve --host {node.address}"
    return (
        generated_header(PRODUCTION, "API node unit")
        + "[Unit]\nDescription=Travel Recharge API node\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nType=simple\nUser=travel-recharge\nGroup=travel-recharge\n"
        f"WorkingDirectory={INSTALL_DIR}\n"
        "EnvironmentFile=/etc/travel-recharge/env\n"
        "EnvironmentFile=/etc/travel-recharge/secrets.env\n"
        f"ExecStart={serve} --port {API_PORT} --workers {hosts.workers}\n"
        # SIGTERM to uvicorn's launcher, which drains its workers (10 s graceful timeout).
        "KillMode=mixed\nTimeoutStopSec=30\nRestart=on-failure\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def write_files(files: Mapping[str, str], out: Path) -> None:
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
