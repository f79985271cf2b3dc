"""How each server of the lab starts: its files under the state directory and its command.

Debian's binaries (packages patroni, etcd-server, haproxy, redis-server/redis-sentinel and
postgresql-15, which `make cluster-deps` installs); the configuration comes from render.py
and haproxy.py with the lab profile. API nodes are `travel-recharge serve` run by this same
interpreter, with the TR_* settings of render.api_environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from travel_recharge.accounts.demo import CREDENTIALS_FILE
from travel_recharge.cluster.haproxy import haproxy_config
from travel_recharge.cluster.processes import Account, Command
from travel_recharge.cluster.profiles import LAB
from travel_recharge.cluster.render import (
    PostgresPaths,
    api_environment,
    etcd_settings,
    patroni_config,
    redis_config,
    sentinel_config,
)
from travel_recharge.cluster.topology import (
    API_PORT,
    TOPOLOGY_FILE,
    Kind,
    Node,
    Topology,
)
from travel_recharge.kit.embedded import minimal_environment
from travel_recharge.security.keys import new_signing_key

PATRONI = "/usr/bin/patroni"
ETCD = "/usr/bin/etcd"
HAPROXY = "/usr/sbin/haproxy"
REDIS_SERVER = "/usr/bin/redis-server"
POSTGRES_BIN = "/usr/lib/postgresql/15/bin"
REQUIRED_BINARIES = (PATRONI, ETCD, HAPROXY, REDIS_SERVER, f"{POSTGRES_BIN}/postgres")
# The loopback network: every host of the lab (see profiles.LAB on why it is trusted).
LAB_NETWORK = "127.0.0.0/8"
SIGNING_KEY_FILE = "signing-key"
API_SETTINGS_FILE = "api-settings.json"
# What a cluster writes in its state directory (and the next `up` removes).
_NODE_DIRECTORY = re.compile(r"^((pg|redis|sentinel|api)\d+|etcd|haproxy|run)$")
_STATE_FILES = {API_SETTINGS_FILE, TOPOLOGY_FILE, CREDENTIALS_FILE}
# Settings the cluster decides for its API nodes; the launcher's own values are not passed.
_DECIDED_HERE = (
    "TR_DATABASE_",
    "TR_REDIS_",
    "TR_TRUSTED_PROXIES",
    "TR_DATA_DIR",
    "TR_METRICS_DIR",
    "TR_SELF_URL",
    "TR_HOST",
    "TR_PORT",
    "TR_WORKERS",
    "TR_TEST_",
)


def missing_binaries() -> list[str]:
    return [path for path in REQUIRED_BINARIES if not os.access(path, os.X_OK)]


def write_configuration(topology: Topology, account: Account) -> None:
    """Every server's directory and configuration file, owned by the service user."""
    topology.state_dir.mkdir(parents=True, exist_ok=True)
    topology.state_dir.chmod(0o755)
    for node in topology.nodes:
        directory = topology.node_dir(node)
        directory.mkdir(mode=0o700, exist_ok=True)
        for name, text in _files(topology, node).items():
            (directory / name).write_text(text)
            account.own(directory / name)
        if node.kind is not Kind.api:  # see processes.Command.unprivileged
            account.own(directory)


def _files(topology: Topology, node: Node) -> dict[str, str]:
    directory = str(topology.node_dir(node))
    master = topology.initial_redis_master
    match node.kind:
        case Kind.postgres:
            paths = PostgresPaths(
                data_dir=f"{directory}/data",
                bin_dir=POSTGRES_BIN,
                socket_dir=directory,
                pgpass=f"{directory}/pgpass",
            )
            text = patroni_config(
                node, etcd=[topology.etcd], paths=paths, client_network=LAB_NETWORK, profile=LAB
            )
            return {"patroni.yml": text}
        case Kind.haproxy:
            text = haproxy_config(
                database_nodes=topology.postgres,
                api_nodes=topology.api,
                database_bind=topology.database_proxy_address,
                front_bind=topology.front_address,
                profile=LAB,
                log_target="stdout format raw",
                source_addresses=True,
            )
            return {"haproxy.cfg": text}
        case Kind.redis:
            replica_of = None if node == master else master
            text = redis_config(node, directory=directory, master=replica_of, profile=LAB)
            return {"redis.conf": text}
        case Kind.sentinel:
            quorum = len(topology.sentinels) // 2 + 1
            text = sentinel_config(
                node, directory=directory, master=master, quorum=quorum, profile=LAB
            )
            return {"sentinel.conf": text}
        case _:
            return {}


def command(topology: Topology, node: Node, *, settings: Mapping[str, str]) -> Command:
    """How `node` starts; `settings`: the TR_* an API node gets (load_api_settings)."""
    directory = topology.node_dir(node)
    environment = minimal_environment(dict(os.environ)) | {"HOME": str(directory)}
    log = directory / f"{'patroni' if node.kind is Kind.postgres else node.kind}.log"
    match node.kind:
        case Kind.etcd:
            flags = etcd_settings(
                node,
                members=[node],
                data_dir=f"{directory}/data",
                cluster_id=f"lab-{topology.site}",
            )
            argv = [ETCD, *(f"--{name}={value}" for name, value in flags.items())]
        case Kind.postgres:
            argv = [PATRONI, str(directory / "patroni.yml")]
        case Kind.haproxy:
            argv = [HAPROXY, "-f", str(directory / "haproxy.cfg")]
        case Kind.redis:
            argv = [REDIS_SERVER, str(directory / "redis.conf")]
        case Kind.sentinel:
            argv = [REDIS_SERVER, str(directory / "sentinel.conf"), "--sentinel"]
        case Kind.api:
            environment |= _api_settings(topology, node, settings)
            argv = [sys.executable, "-m", "travel_recharge.cli", "serve"]
            argv += [
                "--host",
                node.address,
                "--port",
                str(API_PORT),
                "--workers",
                str(topology.workers),
            ]
    return Command(argv, environment, directory, log, unprivileged=node.kind is not Kind.api)


def _api_settings(topology: Topology, node: Node, settings: Mapping[str, str]) -> dict[str, str]:
    passed = {
        name: value
        for name, value in settings.items()
        if name.startswith("TR_") and not name.startswith(_DECIDED_HERE)
    }
    environment = passed | api_environment(
        database_proxy=topology.database_proxy_address,
        sentinels=topology.sentinels,
        front=topology.front_address,
        with_owner=True,
    )
    environment |= {
        "TR_DATA_DIR": str(topology.node_dir(node)),
        "TR_AUTH_SIGNING_KEY": settings["TR_AUTH_SIGNING_KEY"],
    }
    # The API nodes run our code from wherever this launcher found it (a source checkout).
    if "PYTHONPATH" in os.environ:
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return environment


def save_api_settings(topology: Topology, environment: Mapping[str, str]) -> None:
    """What API nodes start with, kept for a later `cluster start api<i>` from another
    process: the launcher's TR_* settings and the shared signing key (so: mode 0600)."""
    settings = {k: v for k, v in environment.items() if k.startswith("TR_")}
    settings["TR_AUTH_SIGNING_KEY"] = shared_signing_key(topology, environment)
    path = topology.state_dir / API_SETTINGS_FILE
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(settings, file)


def load_api_settings(topology: Topology) -> dict[str, str]:
    return dict(json.loads((topology.state_dir / API_SETTINGS_FILE).read_text()))


def wipe_state(topology: Topology) -> None:
    """A fresh cluster each `up`: the files a previous cluster made go (its nodes'
    directories, pid files, settings), the signing key stays, and nothing else in the
    directory is touched (a --state-dir may hold other things)."""
    topology.state_dir.mkdir(parents=True, exist_ok=True)
    for path in topology.state_dir.iterdir():
        if path.is_dir() and not path.is_symlink() and _NODE_DIRECTORY.match(path.name):
            shutil.rmtree(path)
        elif path.name in _STATE_FILES:
            path.unlink()


def shared_signing_key(topology: Topology, settings: Mapping[str, str]) -> str:
    """One key for every API node, so a token from one is good at all: TR_AUTH_SIGNING_KEY
    when set, else one generated once and kept in the state directory (mode 0600)."""
    configured = settings.get("TR_AUTH_SIGNING_KEY")
    if configured:
        return configured
    path = topology.state_dir / SIGNING_KEY_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_signing_key())
    return path.read_text().strip()


def node_data_dir(topology: Topology, node: Node) -> Path:
    """PostgreSQL's data directory of a database node."""
    return topology.node_dir(node) / "data"
