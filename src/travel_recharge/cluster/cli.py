"""`travel-recharge cluster ...`: a thin command line over launcher.Cluster.

Exit codes: 0 done (for `status`: the cluster is whole); 1 `status` found problems;
2 refused (already running, no such node, nothing started there, missing binaries).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from travel_recharge.cluster.topology import Topology, default_state_dir
from travel_recharge.cluster.waiting import ClusterError
from travel_recharge.kit.config import get_settings


def add_cluster_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `cluster` and its subcommands on the `travel-recharge` parser."""
    cluster = commands.add_parser(
        "cluster",
        help="a cluster on this machine: Patroni+etcd, HAProxy, Redis Sentinel, API nodes",
    )
    sub = cluster.add_subparsers(dest="cluster_command", required=True)

    up = _with_site(sub.add_parser("up", help="start a fresh cluster (refused if one runs)"))
    up.add_argument("--api-nodes", type=int, default=3, help="API nodes behind HAProxy")
    up.add_argument("--workers", type=int, default=1, help="worker processes per API node")
    up.add_argument("--demo", action="store_true", help="seed the demo data and accounts")
    up.set_defaults(handler=cmd_up)

    status = _with_site(sub.add_parser("status", help="every node's role, lag and health"))
    status.add_argument("--json", action="store_true", help="as JSON")
    status.set_defaults(handler=cmd_status)

    down = _with_site(sub.add_parser("down", help="stop every server of the cluster"))
    down.set_defaults(handler=cmd_down)

    kill = _with_site(sub.add_parser("kill", help="kill -9 a node (every process of it)"))
    kill.add_argument(
        "node",
        help="pg-leader, pg-sync, pg-replica, pg<i>, redis-master, redis<i>, sentinel<i>, "
        "api<i>, etcd or haproxy",
    )
    kill.set_defaults(handler=cmd_kill)

    start = _with_site(sub.add_parser("start", help="start a killed node again"))
    start.add_argument("node", help="pg<i>, redis<i>, sentinel<i>, api<i>, etcd or haproxy")
    start.set_defaults(handler=cmd_start)

    switchover = _with_site(
        sub.add_parser("switchover", help="planned change of the PostgreSQL leader")
    )
    switchover.add_argument("--to", help="the candidate (must be the synchronous standby)")
    switchover.set_defaults(handler=cmd_switchover)

    render = sub.add_parser(
        "render", help="write the configuration of a cluster on real hosts (deploy/cluster/)"
    )
    render.add_argument("--hosts", required=True, help="the hosts description (TOML)")
    render.add_argument("--out", required=True, help="directory to write each host's files in")
    render.set_defaults(handler=cmd_render)


def _with_site(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--site", type=int, default=0, help="S of the addresses 127.S.x.y (default 0)"
    )
    parser.add_argument(
        "--state-dir",
        help="where the servers keep their files (default <TR_DATA_DIR>/cluster/site-S)",
    )
    return parser


def _state_dir(args: argparse.Namespace) -> Path:
    _quiet_clients()
    if args.state_dir:
        return Path(args.state_dir).resolve()
    return default_state_dir(get_settings().data_dir, args.site)


def _quiet_clients() -> None:
    # The probes ask every server every half second: httpx's line per request drowns the
    # progress messages.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _say(message: str) -> None:
    print(message, flush=True)


def _refused(args: argparse.Namespace, exc: Exception) -> int:
    print(f"travel-recharge cluster {args.cluster_command}: {exc}", file=sys.stderr)
    return 2


def cmd_up(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster

    try:
        topology = Topology(args.site, args.api_nodes, args.workers, _state_dir(args))
        cluster = Cluster.up(topology, demo=args.demo, say=_say)
    except (ClusterError, ValueError) as exc:
        return _refused(args, exc)
    from travel_recharge.cluster.report import status_text

    print(status_text(cluster.status(), cluster.memory()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster
    from travel_recharge.cluster.report import status_text

    try:
        cluster = Cluster.attach(_state_dir(args))
    except ClusterError as exc:
        return _refused(args, exc)
    status, memory = cluster.status(), cluster.memory()
    if args.json:
        print(json.dumps(asdict(status) | {"memory_mb": memory, "problems": status.problems()}))
    else:
        print(status_text(status, memory))
    return 0 if not status.problems() else 1


def cmd_down(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster

    state_dir = _state_dir(args)
    try:
        cluster = Cluster.attach(state_dir, say=_say)
    except ClusterError:
        # Nothing recorded (a launcher killed before it wrote the topology): what the pid
        # files and the process table still know of this state directory is stopped.
        cluster = Cluster(Topology(args.site, state_dir=state_dir), say=_say)
    cluster.down()
    print(f"stopped the cluster of {state_dir}")
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster

    try:
        node = Cluster.attach(_state_dir(args)).kill(args.node)
    except ClusterError as exc:
        return _refused(args, exc)
    print(f"killed {node.name} ({node.address})")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster

    try:
        node = Cluster.attach(_state_dir(args)).start(args.node)
    except ClusterError as exc:
        return _refused(args, exc)
    print(f"started {node.name} ({node.address}); `cluster status` shows when it has rejoined")
    return 0


def cmd_switchover(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.launcher import Cluster

    try:
        leader = Cluster.attach(_state_dir(args)).switchover(args.to)
    except ClusterError as exc:
        return _refused(args, exc)
    print(f"the leader is now {leader}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from travel_recharge.cluster.deploy import HostsProblem, load_hosts, render_hosts, write_files

    try:
        files = render_hosts(load_hosts(Path(args.hosts)))
    except HostsProblem as exc:
        return _refused(args, exc)
    write_files(files, Path(args.out))
    print(f"wrote {len(files)} files under {args.out}")
    return 0
