"""What every server of the cluster says about itself, asked the way an operator would.

Patroni's REST API for the database roles (GET /cluster: leader, sync standby, replicas,
lag; the leader's GET /patroni: which replicas stream and which is synchronous), each Redis
server's INFO replication, each Sentinel's idea of the master, each API node's database
health, HAProxy's own view of its servers and etcd's /health (the questions: probes.py).
`ClusterStatus.problems()` says what keeps the cluster from being whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from travel_recharge.cluster import probes
from travel_recharge.cluster.haproxy import API_BACKEND, HEALTH_PATH, READ_BACKEND, WRITE_BACKEND
from travel_recharge.cluster.topology import REDIS_PORT, Node, Topology


@dataclass(frozen=True)
class PostgresNode:
    name: str
    address: str
    running: bool  # its Patroni process is alive
    role: str | None  # leader, sync_standby, replica (Patroni's words); None: unknown
    state: str | None  # running, starting, stopped, ...
    timeline: int | None
    lag_bytes: int | None  # behind the leader, as Patroni last saw it
    streaming: bool  # the leader has a streaming replication connection from it
    sync_state: str | None  # pg_stat_replication.sync_state at the leader: sync, async, ...


@dataclass(frozen=True)
class RedisNode:
    name: str
    address: str
    running: bool
    role: str | None  # master or slave (Redis' words)
    master: str | None  # host:port it replicates from
    link_up: bool  # a replica's link to its master
    replicas: int  # a master's connected replicas


@dataclass(frozen=True)
class SentinelNode:
    name: str
    address: str
    running: bool
    master: str | None  # host:port this Sentinel calls the master


@dataclass(frozen=True)
class ApiNode:
    name: str
    url: str
    running: bool
    health: int | None  # the HTTP status of its /api/v1/health/db


@dataclass(frozen=True)
class ClusterStatus:
    site: int
    state_dir: str
    etcd_running: bool
    etcd_healthy: bool
    haproxy_running: bool
    front_health: int | None
    postgres: list[PostgresNode]
    redis: list[RedisNode]
    sentinels: list[SentinelNode]
    api: list[ApiNode]
    haproxy_servers: dict[str, str]  # "backend/server" -> UP, DOWN, ...
    urls: dict[str, str] = field(default_factory=dict)

    def postgres_with_role(self, role: str) -> list[PostgresNode]:
        return [node for node in self.postgres if node.role == role]

    @property
    def leader(self) -> PostgresNode | None:
        leaders = self.postgres_with_role("leader")
        return leaders[0] if len(leaders) == 1 else None

    @property
    def redis_master(self) -> RedisNode | None:
        masters = [node for node in self.redis if node.role == "master"]
        return masters[0] if len(masters) == 1 else None

    @property
    def sentinel_master(self) -> str | None:
        """The master every Sentinel that answers names (None if they disagree or none
        answers)."""
        named = {node.master for node in self.sentinels if node.master is not None}
        return named.pop() if len(named) == 1 else None

    def problems(self) -> list[str]:
        """What keeps the cluster from being whole (empty: every node up and in its place)."""
        found = [
            *([] if self.etcd_healthy else ["etcd is not healthy"]),
            *([] if self.haproxy_running else ["HAProxy is not running"]),
            *([] if self.front_health == 200 else [f"the front answers {self.front_health}"]),
        ]
        found += self.database_problems() + self.cache_problems() + self.routing_problems()
        return found + [f"{node.name} is not healthy" for node in self.api if node.health != 200]

    def routing_problems(self) -> list[str]:
        """Where HAProxy's own checks do not (yet) agree with the servers: it must send
        writes to the leader alone, reads to the streaming replicas, requests to every node."""
        wanted = {f"{API_BACKEND}/{node.name}": "UP" for node in self.api}
        for node in self.postgres:
            replica = node.role != "leader" and node.streaming
            wanted[f"{WRITE_BACKEND}/{node.name}"] = "UP" if node.role == "leader" else "DOWN"
            wanted[f"{READ_BACKEND}/{node.name}"] = "UP" if replica else "DOWN"
        return [
            f"HAProxy has {server} {self.haproxy_servers.get(server, 'unknown')}, not {state}"
            for server, state in wanted.items()
            if self.haproxy_servers.get(server) != state
        ]

    def database_problems(self) -> list[str]:
        found = [] if self.leader is not None else ["no single PostgreSQL leader"]
        sync = self.postgres_with_role("sync_standby")
        if len(sync) != 1 or not sync[0].streaming or sync[0].sync_state != "sync":
            found.append("no streaming synchronous standby")
        return found + [
            f"{node.name} is not a streaming replica"
            for node in self.postgres
            if node.role != "leader" and not node.streaming
        ]

    def cache_problems(self) -> list[str]:
        master = self.redis_master
        if master is None:
            return ["no single Redis master"]
        master_address = f"{master.address}:{REDIS_PORT}"
        found = [
            f"{node.name} does not replicate the master"
            for node in self.redis
            if node is not master and not (node.link_up and node.master == master_address)
        ]
        if any(node.master != master_address for node in self.sentinels):
            found.append("the Sentinels do not all name the master")
        return found


def collect(topology: Topology, running: set[str]) -> ClusterStatus:
    """Ask every server; `running`: the names whose process is alive (from the pid files)."""
    with httpx.Client(timeout=probes.TIMEOUT_S) as http:
        return ClusterStatus(
            site=topology.site,
            state_dir=str(topology.state_dir),
            etcd_running="etcd" in running,
            etcd_healthy=probes.etcd_healthy(http, topology.etcd),
            haproxy_running="haproxy" in running,
            front_health=probes.status_code(http, topology.front_url + HEALTH_PATH),
            postgres=_postgres(http, topology, running),
            redis=[_redis(node, node.name in running) for node in topology.redis],
            sentinels=[_sentinel(node, node.name in running) for node in topology.sentinels],
            api=[
                ApiNode(
                    node.name,
                    topology.api_url(node),
                    node.name in running,
                    probes.status_code(http, topology.api_url(node) + HEALTH_PATH),
                )
                for node in topology.api
            ],
            haproxy_servers=probes.haproxy_servers(http, topology.stats_url),
            urls=topology.urls,
        )


def _postgres(http: httpx.Client, topology: Topology, running: set[str]) -> list[PostgresNode]:
    listed = probes.patroni_members(http, topology) or probes.members_from_nodes(http, topology)
    members = {member["name"]: member for member in listed}
    leader = next((m for m in members.values() if m.get("role") == "leader"), None)
    replication: dict[str, dict[str, Any]] = {}
    if leader is not None:
        # Only the leader knows which replicas stream to it right now, and which is sync.
        body = probes.get_json(http, str(leader["api_url"]))  # the leader's own /patroni
        for connection in (body or {}).get("replication", []):
            replication[str(connection.get("application_name"))] = connection
    nodes = []
    for node in topology.postgres:
        member = members.get(node.name, {})
        connection = replication.get(node.name, {})
        lag = member.get("lag")
        nodes.append(
            PostgresNode(
                name=node.name,
                address=node.address,
                running=node.name in running,
                role=member.get("role"),
                state=member.get("state"),
                timeline=member.get("timeline"),
                lag_bytes=lag if isinstance(lag, int) else None,
                streaming=connection.get("state") == "streaming",
                sync_state=connection.get("sync_state"),
            )
        )
    return nodes


def _redis(node: Node, running: bool) -> RedisNode:
    info = probes.redis_replication(node.address)
    if info is None:
        return RedisNode(node.name, node.address, running, None, None, False, 0)
    role = str(info.get("role"))
    master = f"{info['master_host']}:{info['master_port']}" if role == "slave" else None
    return RedisNode(
        name=node.name,
        address=node.address,
        running=running,
        role=role,
        master=master,
        link_up=info.get("master_link_status") == "up",
        replicas=int(info.get("connected_slaves", 0)),
    )


def _sentinel(node: Node, running: bool) -> SentinelNode:
    return SentinelNode(node.name, node.address, running, probes.sentinel_master(node.address))
