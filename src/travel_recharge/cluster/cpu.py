"""Where the cluster's CPU goes: seconds used so far by each role of server.

A benchmark reads it before and after a workload through the front: the difference divided
by the requests served is the CPU one request costs each role (an API node, the PostgreSQL
leader, its replicas, HAProxy, Redis), which is what the README's capacity model for N real
hosts rests on. Each server counts with everything it forked (a postmaster's backends, an
API node's workers), live or ended (the kernel adds an ended child's time to its parent's).
"""

from __future__ import annotations

import contextlib

import psutil

from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.memory import process_tree
from travel_recharge.cluster.topology import Kind


def cpu_seconds_by_role(cluster: Cluster) -> dict[str, float]:
    """CPU seconds (user + system) per role: api, postgres leader, postgres replicas,
    patroni, haproxy, redis, sentinel, etcd."""
    leader = cluster.status().leader
    totals: dict[str, float] = {}
    for node in cluster.topology.nodes:
        for process in cluster.node_processes(node):
            role = str(node.kind)
            if node.kind is Kind.postgres:
                with contextlib.suppress(psutil.Error):
                    is_postgres = process.name() == "postgres"
                    is_leader = leader is not None and leader.name == node.name
                    role = "patroni"
                    if is_postgres:
                        role = "postgres leader" if is_leader else "postgres replicas"
            totals[role] = totals.get(role, 0.0) + _tree_cpu(process)
    return totals


def _tree_cpu(process: psutil.Process) -> float:
    total = 0.0
    for member in process_tree(process):
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            # With what its children that ended used (a backend that closed, counted
            # by the postmaster that reaped it): else the figure could go down.
            total += times.user + times.system + times.children_user + times.children_system
    return total
