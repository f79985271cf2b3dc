"""The cluster as one object: up, status, kill, start, switchover, wait_healthy, memory, down.

The CLI (`travel-recharge cluster ...`) and the tests drive the cluster through this class
only. `up` starts the servers in the order each needs the previous ones (etcd; Patroni with
Redis, the Sentinels and HAProxy meanwhile; the database through HAProxy once a leader has
its synchronous standby; the API nodes last) and returns when the front answers through
HAProxy. The servers outlive the launcher; another process finds them again with
`Cluster.attach(state_dir)`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import psutil

from travel_recharge.cluster import bootstrap, processes, servers
from travel_recharge.cluster.memory import memory_by_kind
from travel_recharge.cluster.probes import patroni_members
from travel_recharge.cluster.processes import ProcessTable, kill_groups, postmaster
from travel_recharge.cluster.status import ClusterStatus, collect
from travel_recharge.cluster.topology import ETCD_CLIENT_PORT, WRITE_PORT, Kind, Node, Topology
from travel_recharge.cluster.waiting import ClusterError, wait_until
from travel_recharge.kit.config import Settings
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.cluster")

# Role names `kill` takes besides node names: resolved from what the cluster says now.
ROLE_ALIASES = ("pg-leader", "pg-sync", "pg-replica", "redis-master")


class Cluster:
    def __init__(self, topology: Topology, *, say: Callable[[str], None] | None = None) -> None:
        self.topology = topology
        self.account = processes.service_account()
        self.table = ProcessTable(topology.run_dir, self.account)
        self.say = say or (lambda message: log_event(logger, "cluster.progress", step=message))

    @classmethod
    def attach(cls, state_dir: Path, *, say: Callable[[str], None] | None = None) -> Cluster:
        """The cluster `up` started in `state_dir` (ClusterError if none ever was)."""
        try:
            return cls(Topology.load(state_dir), say=say)
        except FileNotFoundError:
            raise ClusterError(f"no cluster was started in {state_dir}") from None

    @classmethod
    def up(
        cls,
        topology: Topology,
        *,
        demo: bool = False,
        environment: Mapping[str, str] | None = None,
        timeout_s: float = 240.0,
        say: Callable[[str], None] | None = None,
    ) -> Cluster:
        """Start a fresh cluster; `environment`'s TR_* (default: this process's) go to the
        API nodes, bar those the cluster decides (servers._DECIDED_HERE)."""
        cluster = cls(topology, say=say)
        cluster._refuse_if_running()
        missing = servers.missing_binaries()
        if missing:
            raise ClusterError(f"missing {', '.join(missing)}: run `make cluster-deps`")
        try:
            cluster._start_everything(dict(os.environ if environment is None else environment))
            cluster._finish(demo, timeout_s)
        except BaseException:
            cluster.say("bring-up failed: stopping what was started")
            cluster.down()
            raise
        return cluster

    # Bring-up.
    def _refuse_if_running(self) -> None:
        if self.running_names() or processes.leftovers(self.topology.state_dir, self.account):
            raise ClusterError(
                f"a cluster is already running from {self.topology.state_dir}; "
                "`travel-recharge cluster down` first"
            )
        taken = [n.address for n in (self.topology.etcd, self.topology.haproxy) if _answers(n)]
        if taken:
            raise ClusterError(
                f"site {self.topology.site} is in use (something listens at {taken[0]}): "
                "another cluster of this site runs from another state directory"
            )

    def _start_everything(self, environment: dict[str, str]) -> None:
        topology = self.topology
        processes.check_reachable(topology.state_dir, self.account)
        servers.wipe_state(topology)
        servers.write_configuration(topology, self.account)
        topology.save()
        servers.save_api_settings(topology, environment)
        self.say(f"starting etcd at {topology.etcd.address}")
        self._spawn(topology.etcd)
        wait_until("etcd answers", 30, lambda: _answers(topology.etcd))
        others = [*topology.postgres, *topology.redis, *topology.sentinels, topology.haproxy]
        self.say("starting Patroni x3, Redis x3, Sentinel x3 and HAProxy")
        for node in others:
            self._spawn(node)

    def _finish(self, demo: bool, timeout_s: float) -> None:
        topology = self.topology
        self.wait_for(
            "a Patroni leader with a streaming synchronous standby and replica",
            timeout_s,
            lambda status: status.database_problems(),
        )
        self.say(f"creating the database through HAProxy ({topology.database_url('postgres')})")
        bootstrap.prepare_database(topology)
        if demo:
            self.say("seeding the demo data (network, riders, trips) and accounts")
            self.say(bootstrap.seed_demo(topology, _timezone(servers.load_api_settings(topology))))
        self.say(f"starting {topology.api_nodes} API node(s)")
        for node in topology.api:
            self._spawn(node)
        self.wait_healthy(timeout_s)
        self.say(f"the front answers at {topology.front_url}")

    def _spawn(self, node: Node) -> None:
        settings = servers.load_api_settings(self.topology)
        self.table.spawn(node.name, servers.command(self.topology, node, settings=settings))

    # What runs.
    def node_processes(self, node: Node) -> list[psutil.Process]:
        """The live processes of `node`: its server, and for a database node also the
        PostgreSQL Patroni started (it runs on when Patroni dies)."""
        found = [p for p in [self.table.process(node.name)] if p is not None]
        if node.kind is Kind.postgres:
            found += [
                p for p in [postmaster(servers.node_data_dir(self.topology, node))] if p is not None
            ]
        return found

    def running_names(self) -> set[str]:
        return {node.name for node in self.topology.nodes if self.table.process(node.name)}

    def status(self) -> ClusterStatus:
        return collect(self.topology, self.running_names())

    def wait_for(
        self, what: str, timeout_s: float, problems: Callable[[ClusterStatus], list[str]]
    ) -> ClusterStatus:
        """Poll the status until `problems` finds none; ClusterError naming the last ones."""
        found: list[str] = []

        def settled() -> ClusterStatus | None:
            nonlocal found
            status = self.status()
            found = problems(status)
            return status if not found else None

        try:
            return wait_until(what, timeout_s, settled)
        except ClusterError as exc:
            raise ClusterError(f"{exc}: {'; '.join(found)}") from None

    def wait_healthy(self, timeout_s: float = 120.0) -> ClusterStatus:
        """Until every node runs in its place: one leader with a streaming synchronous
        standby, the other replica streaming, a Redis master whose replicas are linked and
        whom every Sentinel names, every API node and the front healthy."""
        return self.wait_for("a whole cluster", timeout_s, lambda status: status.problems())

    # Faults and repairs.
    def resolve(self, name: str) -> Node:
        """A node by name (pg2, redis1, api3, etcd, ...) or by role (pg-leader, pg-sync,
        pg-replica, redis-master) as the cluster says now."""
        if name not in ROLE_ALIASES:
            try:
                return self.topology.node(name)
            except KeyError as exc:
                raise ClusterError(str(exc.args[0])) from None
        status = self.status()
        if name == "redis-master":
            candidates = [n.name for n in status.redis if n.role == "master"]
        else:
            role = {"pg-leader": "leader", "pg-sync": "sync_standby", "pg-replica": "replica"}
            candidates = [n.name for n in status.postgres_with_role(role[name])]
        if len(candidates) != 1:
            raise ClusterError(f"{name}: the cluster has {len(candidates)} such nodes now")
        return self.topology.node(candidates[0])

    def kill(self, name: str) -> Node:
        """kill -9 every process of a node at once, as a host that loses power; returns it."""
        node = self.resolve(name)
        servers_of_node = self.node_processes(node)
        if not servers_of_node:
            raise ClusterError(f"{node.name} is not running")
        # PostgreSQL's backends (WAL senders among them) each open a session of their own
        # (setsid), out of the postmaster's process group: found first, killed with it. A
        # backend left alive would still ship the dead primary's WAL and hold its memory.
        victims = servers_of_node + processes.descendants(servers_of_node)
        kill_groups(servers_of_node, signal.SIGKILL)
        processes.kill_each(victims)
        # Waited for (and reaped, when they are our children) before saying it is done.
        processes.wait_gone(victims, processes.STOP_TIMEOUT_S)
        self.table.forget(node.name)
        log_event(logger, "cluster.killed", node=node.name, pids=[p.pid for p in victims])
        return node

    def start(self, name: str) -> Node:
        """Start a stopped node again with its configuration as it is now (a database node's
        Patroni rejoins it as a replica, rewinding an old leader's timeline first)."""
        node = self.resolve(name)
        if self.table.process(node.name) is not None:
            raise ClusterError(f"{node.name} is already running")
        self._spawn(node)
        return node

    def restore(self, timeout_s: float = 180.0) -> ClusterStatus:
        """Start every node that is not running (in the order `up` starts them), then wait
        until the cluster is whole again: what a test does after its fault."""
        for node in self.topology.nodes:
            if self.table.process(node.name) is None:
                self.start(node.name)
        return self.wait_healthy(timeout_s)

    def switchover(self, to: str | None = None, timeout_s: float = 60.0) -> str:
        """A planned change of leader through Patroni's REST API; returns the new leader.
        In synchronous mode only the synchronous standby may be the candidate."""
        status = self.status()
        leader = status.leader
        if leader is None:
            raise ClusterError("no single leader to switch over from")
        standbys = [node.name for node in status.postgres_with_role("sync_standby")]
        if to is not None and to not in standbys:
            raise ClusterError(
                f"{to} is not the synchronous standby ({', '.join(standbys) or 'none now'}): "
                "in synchronous mode only it may take over without losing a commit"
            )
        request = {"leader": leader.name} | ({"candidate": to} if to else {})
        url = self.topology.patroni_url(self.topology.node(leader.name)) + "/switchover"
        try:
            # Patroni answers once the new leader holds the key (it polls up to ~20 s).
            response = httpx.post(url, json=request, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise ClusterError(f"switchover: Patroni did not answer: {exc}") from None
        if response.status_code != 200:
            raise ClusterError(f"switchover refused ({response.status_code}): {response.text}")
        with httpx.Client(timeout=2) as http:
            members = patroni_members(http, self.topology)
        new = [m["name"] for m in members if m.get("role") == "leader"]
        return str(new[0]) if new else response.text

    def _stop_strays(self, layers: list[list[Node]]) -> None:
        """Stop the cluster's processes that no pid file (nor a known postmaster) leads to."""
        known = _known_pids([p for layer in layers for n in layer for p in self.node_processes(n)])
        stray = [
            p
            for p in processes.leftovers(self.topology.state_dir, self.account)
            if p.pid not in known
        ]
        if stray:
            log_event(logger, "cluster.leftovers_stopped", pids=[p.pid for p in stray])
            processes.stop(stray, groups=False)

    def memory(self) -> dict[str, float]:
        """Resident memory (MB) of every process of the cluster, summed per kind of server
        (postgres, patroni, etcd, haproxy, redis, sentinel, api), and in all."""
        return memory_by_kind((node, self.node_processes(node)) for node in self.topology.nodes)

    def down(self) -> None:
        """Stop every server, newest layer first, and remove the pid files; a server the pid
        files do not name (its launcher was killed mid-way) is found by where it runs from
        (processes.leftovers)."""
        layers = [
            list(self.topology.api),
            [self.topology.haproxy, *self.topology.sentinels, *self.topology.redis],
            list(self.topology.postgres),
            [self.topology.etcd],
        ]
        known = {node.name for node in self.topology.nodes}
        # Pid files of nodes this topology does not list (a larger cluster's) go first.
        layers.insert(
            0, [Node(name, Kind.api, "") for name in self.table.names() if name not in known]
        )
        # Strays first, while etcd still answers: a Patroni without its pid file would
        # otherwise restart its PostgreSQL behind the layers, then hang on a vanished etcd.
        self._stop_strays(layers)
        for layer in layers:
            running = [p for node in layer for p in self.node_processes(node)]
            if running:
                processes.stop(running)
        self._stop_strays([])
        for name in self.table.names():
            self.table.forget(name)


def _known_pids(processes_of_nodes: list[psutil.Process]) -> set[int]:
    known = set()
    for process in processes_of_nodes:
        known.add(process.pid)
        try:
            known.update(child.pid for child in process.children(recursive=True))
        except psutil.Error:
            continue
    return known


def _answers(node: Node) -> bool:
    port = ETCD_CLIENT_PORT if node.kind is Kind.etcd else WRITE_PORT
    try:
        with socket.create_connection((node.address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _timezone(settings: Mapping[str, str]) -> str:
    return settings.get("TR_TIMEZONE") or str(Settings.model_fields["timezone"].default)
