"""haproxy.cfg: the database write and read ports and the API front, in one HAProxy.

Which database node is behind each port is decided by Patroni's REST checks (/primary,
/replica), never guessed by a client; the API front checks each node's database health and
retries a request whose connection failed on another node.
"""

from __future__ import annotations

from collections.abc import Sequence

from travel_recharge.cluster.profiles import Profile, generated_header
from travel_recharge.cluster.topology import (
    API_PORT,
    PATRONI_PORT,
    POSTGRES_PORT,
    READ_PORT,
    STATS_PORT,
    WRITE_PORT,
    Node,
)

HEALTH_PATH = "/api/v1/health/db"
WRITE_BACKEND = "database-write"
READ_BACKEND = "database-read"
API_BACKEND = "api-nodes"


def haproxy_config(
    *,
    database_nodes: Sequence[Node],
    api_nodes: Sequence[Node],
    database_bind: str,
    front_bind: str,
    profile: Profile,
    log_target: str,
    source_addresses: bool,
    run_as: str | None = None,
) -> str:
    """haproxy.cfg: the write and read database ports (Patroni's REST checks decide which
    node is behind each) and the API front. `source_addresses`: connect from the bind
    addresses (on one machine a loopback connection would otherwise come from 127.0.0.1, and
    the API nodes trust X-Forwarded-For only from the front's address). `run_as`: the user
    HAProxy drops to after binding, chrooted (real hosts start it as root)."""
    check = f"inter {profile.check_inter_ms} fall {profile.check_fall} rise {profile.check_rise}"
    sections = [
        generated_header(profile, "HAProxy"),
        "global\n    maxconn 4096\n",
        f"    log {log_target} local0 notice\n",
        *(
            [f"    user {run_as}\n    group {run_as}\n    chroot /var/lib/haproxy\n"]
            if run_as
            else []
        ),
        "\n",
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
        "    timeout client 30s\n    timeout server 30s\n"
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
        # A request whose connection failed (or got no answer at all) goes to another node,
        # at every retry (redispatch 1), not only the last: money operations are idempotent
        # (Idempotency-Key, tap_id), so a retry is safe.
        "    option redispatch 1",
        "    retries 3",
        "    retry-on conn-failure empty-response",
        f"    default-server {check}",
    ]
    if source:
        lines.append(f"    source {bind}")
    lines += [f"    server {n.name} {n.address}:{API_PORT} check" for n in nodes]
    return "\n".join(lines) + "\n\n"
