"""`cluster status` for people: one line per node, the URLs, the memory, what is wrong."""

from __future__ import annotations

from travel_recharge.cluster.status import ClusterStatus


def status_text(status: ClusterStatus, memory: dict[str, float]) -> str:
    lines = [
        f"Cluster of site {status.site} (state in {status.state_dir})",
        "PostgreSQL (Patroni):",
    ]
    for pg in status.postgres:
        lag = "" if pg.role == "leader" or pg.lag_bytes is None else f" lag {pg.lag_bytes} B"
        link = f" {pg.sync_state} streaming" if pg.streaming else ""
        lines.append(
            f"  {pg.name:<10} {pg.address:<15} {_up(pg.running)} {pg.role or '-':<13}"
            f" {pg.state or '-'} timeline {pg.timeline or '-'}{link}{lag}"
        )
    lines.append("Redis:")
    for node in status.redis:
        if node.role == "master":
            detail = f"master, {node.replicas} replicas"
        elif node.role:
            detail = f"replica of {node.master}, link {'up' if node.link_up else 'down'}"
        else:
            detail = "no answer"
        lines.append(f"  {node.name:<10} {node.address:<15} {_up(node.running)} {detail}")
    lines.append("Sentinels:")
    for sentinel in status.sentinels:
        says = f"master is {sentinel.master}" if sentinel.master else "no answer"
        lines.append(f"  {sentinel.name:<10} {sentinel.address:<15} {_up(sentinel.running)} {says}")
    lines.append("API nodes:")
    for api in status.api:
        lines.append(f"  {api.name:<10} {api.url:<26} {_up(api.running)} health {api.health}")
    lines.append(
        f"etcd {'healthy' if status.etcd_healthy else 'NOT healthy'}; HAProxy "
        f"{'running' if status.haproxy_running else 'NOT running'}; front health "
        f"{status.front_health}"
    )
    routes: dict[str, list[str]] = {}
    for name, state in sorted(status.haproxy_servers.items()):
        backend, server = name.split("/", 1)
        routes.setdefault(backend, [])
        if state == "UP":
            routes[backend].append(server)
    lines.append(
        "HAProxy routes: "
        + "; ".join(f"{b} -> {', '.join(s) or 'nothing'}" for b, s in routes.items())
    )
    lines.append("URLs:")
    lines += [f"  {name:<15} {url}" for name, url in status.urls.items()]
    lines.append("Memory (RSS, MB): " + ", ".join(f"{k} {v}" for k, v in memory.items()))
    problems = status.problems()
    lines.append("Problems: " + ("none" if not problems else "; ".join(problems)))
    return "\n".join(lines)


def _up(running: bool) -> str:
    return "up  " if running else "DOWN"
