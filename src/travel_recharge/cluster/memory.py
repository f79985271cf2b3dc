"""What the cluster costs this machine: the resident memory of each kind of server.

Each server is counted with everything it forked (a postmaster with its backends, an API
node with its workers). Resident sizes count pages PostgreSQL's backends share once per
process, so the postgres figure is an upper bound; it is the figure `ps` and the kernel's
out-of-memory killer see.
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil

from travel_recharge.cluster.topology import Kind, Node

MB = 1024 * 1024


def memory_by_kind(nodes: Iterable[tuple[Node, list[psutil.Process]]]) -> dict[str, float]:
    """MB per kind of server, and "total"; a database node is Patroni plus PostgreSQL."""
    totals: dict[str, float] = {}
    for node, processes in nodes:
        for process in processes:
            kind = _kind(node, process)
            totals[kind] = totals.get(kind, 0.0) + _tree_rss(process) / MB
    rounded = {kind: round(mb, 1) for kind, mb in sorted(totals.items())}
    rounded["total"] = round(sum(totals.values()), 1)
    return rounded


def _kind(node: Node, process: psutil.Process) -> str:
    if node.kind is Kind.postgres:
        try:
            return "postgres" if process.name() == "postgres" else "patroni"
        except psutil.Error:
            return "patroni"
    return str(node.kind)


def process_tree(process: psutil.Process) -> list[psutil.Process]:
    """A server with everything it forked (empty when it is gone)."""
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in process_tree(process):
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total
