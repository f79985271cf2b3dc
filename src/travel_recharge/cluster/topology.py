"""Which servers a one-machine cluster has, at which addresses and ports.

Every "host" is its own loopback address 127.S.x.y (S: the site, so several clusters — a
developer's, the test suite's, a helper's — never collide): 127.S.1.x are the database
hosts, 127.S.2.x the Redis hosts, 127.S.3.x the API hosts, and .100 of a subnet is HAProxy's
address there. Ports are the engines' usual ones, the same on every host, as on real
machines. Everything else (URLs, directories) is derived here, once, so the renderer, the
process manager, the status probes and the tests never spell an address themselves.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

# The engines' usual ports; each host has its own address, so they repeat across hosts.
POSTGRES_PORT = 5432
PATRONI_PORT = 8008
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
WRITE_PORT = 5000  # HAProxy: the Patroni leader
READ_PORT = 5001  # HAProxy: the replicas
API_PORT = 8000
STATS_PORT = 8404
REDIS_PORT = 6379
SENTINEL_PORT = 26379

DATABASE_NAME = "travel_recharge"
SUPERUSER = "postgres"
REPLICATION_USER = "replicator"
SCOPE = "travel-recharge"  # Patroni's cluster name in etcd
MASTER_NAME = "travel-recharge"  # the Redis master's name at the Sentinels
POSTGRES_NODES = 3
REDIS_NODES = 3
# .100 of each subnet is HAProxy's: API nodes are numbered below it.
MAX_API_NODES = 99
TOPOLOGY_FILE = "topology.json"


class Kind(StrEnum):
    etcd = "etcd"
    postgres = "postgres"
    haproxy = "haproxy"
    redis = "redis"
    sentinel = "sentinel"
    api = "api"


@dataclass(frozen=True)
class Node:
    """One server of the cluster: `name` is what `cluster kill` and `cluster start` take."""

    name: str
    kind: Kind
    address: str


@dataclass(frozen=True)
class Topology:
    site: int = 0
    api_nodes: int = 3
    workers: int = 1
    state_dir: Path = Path(".data/cluster/site-0")

    def __post_init__(self) -> None:
        if not 0 <= self.site <= 255:
            raise ValueError(f"site: {self.site} is not 0-255 (it is the second byte of 127.S.x.y)")
        if not 1 <= self.api_nodes <= MAX_API_NODES:
            raise ValueError(f"api_nodes: {self.api_nodes} is not 1-{MAX_API_NODES}")
        if not 1 <= self.workers <= 64:
            raise ValueError(f"workers: {self.workers} is not 1-64")

    # Addresses.
    def host(self, subnet: int, index: int) -> str:
        return f"127.{self.site}.{subnet}.{index}"

    @property
    def etcd(self) -> Node:
        return Node("etcd", Kind.etcd, self.host(1, 10))

    @property
    def haproxy(self) -> Node:
        # One process serving both HAProxy addresses: the database ports and the API front.
        return Node("haproxy", Kind.haproxy, self.database_proxy_address)

    @property
    def database_proxy_address(self) -> str:
        return self.host(1, 100)

    @property
    def front_address(self) -> str:
        return self.host(3, 100)

    @property
    def postgres(self) -> tuple[Node, ...]:
        return tuple(
            Node(f"pg{i}", Kind.postgres, self.host(1, i)) for i in range(1, POSTGRES_NODES + 1)
        )

    @property
    def redis(self) -> tuple[Node, ...]:
        return tuple(
            Node(f"redis{i}", Kind.redis, self.host(2, i)) for i in range(1, REDIS_NODES + 1)
        )

    @property
    def sentinels(self) -> tuple[Node, ...]:
        # A Sentinel beside each Redis server, as on real hosts.
        return tuple(
            Node(f"sentinel{i}", Kind.sentinel, self.host(2, i)) for i in range(1, REDIS_NODES + 1)
        )

    @property
    def api(self) -> tuple[Node, ...]:
        return tuple(
            Node(f"api{i}", Kind.api, self.host(3, i)) for i in range(1, self.api_nodes + 1)
        )

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every server, in the order they start (and the reverse of how they stop)."""
        return (
            self.etcd,
            *self.postgres,
            self.haproxy,
            *self.redis,
            *self.sentinels,
            *self.api,
        )

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        names = ", ".join(n.name for n in self.nodes)
        raise KeyError(f"no node {name!r} in this cluster (nodes: {names})")

    # What clients use.
    @property
    def initial_redis_master(self) -> Node:
        return self.redis[0]

    def database_url(self, user: str, *, port: int = WRITE_PORT) -> str:
        return database_url(self.database_proxy_address, user, port)

    @property
    def front_url(self) -> str:
        return f"http://{self.front_address}:{API_PORT}"

    @property
    def stats_url(self) -> str:
        return f"http://{self.front_address}:{STATS_PORT}/"

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"{node.address}:{SENTINEL_PORT}" for node in self.sentinels]

    @property
    def urls(self) -> dict[str, str]:
        """Where a person or a tool reaches the cluster (what `cluster status` prints)."""
        return {
            "front": self.front_url,
            "database_write": self.database_url(SUPERUSER),
            "database_read": self.database_url(SUPERUSER, port=READ_PORT),
            "haproxy_stats": self.stats_url,
            "sentinels": ",".join(self.sentinel_addresses),
            "patroni": ",".join(self.patroni_url(node) for node in self.postgres),
        }

    def patroni_url(self, node: Node) -> str:
        return f"http://{node.address}:{PATRONI_PORT}"

    def api_url(self, node: Node) -> str:
        return f"http://{node.address}:{API_PORT}"

    # Where each server keeps its files.
    def node_dir(self, node: Node) -> Path:
        return self.state_dir / node.name

    @property
    def run_dir(self) -> Path:
        """Pid files of the servers the launcher started."""
        return self.state_dir / "run"

    def save(self) -> None:
        values = asdict(self) | {"state_dir": str(self.state_dir)}
        (self.state_dir / TOPOLOGY_FILE).write_text(json.dumps(values, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Topology:
        """The topology `cluster up` saved in `state_dir` (FileNotFoundError if none)."""
        values = json.loads((state_dir / TOPOLOGY_FILE).read_text())
        return cls(
            site=int(values["site"]),
            api_nodes=int(values["api_nodes"]),
            workers=int(values["workers"]),
            state_dir=Path(values["state_dir"]),
        )


def database_url(proxy: str, user: str, port: int, database: str = DATABASE_NAME) -> str:
    """A database role through HAProxy's write (5000) or read (5001) port."""
    return f"postgresql://{user}@{proxy}:{port}/{database}"


def default_state_dir(data_dir: Path, site: int) -> Path:
    return (data_dir / "cluster" / f"site-{site}").resolve()
