"""The suite's workloads through a cluster's front (`bench suite --url`), beside one node's.

The front is HAProxy in front of the API nodes of a running `travel-recharge cluster`; its
state directory gives what a benchmark needs besides the address: the key the nodes sign
tokens with and the schema owner's URL through HAProxy's write port, where the benchmark
makes cards of its own (cluster.drill.cards.prepare_drill: nothing it writes touches other
cards). Reads, taps and recharges run with the suite's clients and seconds; each figure is
reported beside the single node's figure for the same workload in the same run.

On one machine every node of the cluster shares the same cores with the load generator and
the single node's server, so the ratio shows what the cluster's extra hops cost (HAProxy,
synchronous replication, Sentinel), not what more hosts would add: the README's capacity
model says that part.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop

from travel_recharge.bench.http_load import get_request, run_load
from travel_recharge.bench.server import signed_authorization
from travel_recharge.bench.taps import tap_on
from travel_recharge.bench.workloads import recharge_card_count, recharge_on
from travel_recharge.cluster.cpu import cpu_seconds_by_role
from travel_recharge.cluster.drill.cards import DrillCards, prepare_drill
from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.servers import API_SETTINGS_FILE
from travel_recharge.cluster.topology import Topology
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal

MakeRequest = Callable[[], bytes]


@dataclass(frozen=True)
class Front:
    url: str
    signing_key: str
    database_url: str  # the schema owner, through HAProxy's write port
    state_dir: Path

    @classmethod
    def of_cluster(cls, state_dir: Path, url: str | None = None) -> Front:
        """The front of the cluster `travel-recharge cluster up` started in `state_dir`."""
        topology = Topology.load(state_dir)
        settings = json.loads((state_dir / API_SETTINGS_FILE).read_text())
        return cls(
            url=url or topology.front_url,
            signing_key=settings["TR_AUTH_SIGNING_KEY"],
            database_url=topology.database_url("postgres"),
            state_dir=state_dir,
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def authorization(self, role: Role, account_id: int, **binding: Any) -> dict[str, str]:
        principal = Principal(account_id, f"bench-{role}", role, **binding)
        return signed_authorization(self.signing_key, principal, 3_600)


def front_workloads(front: Front, cards: DrillCards) -> dict[str, tuple[str, MakeRequest]]:
    """Workload name (as the single node's) -> (kind, request), on the benchmark's cards."""
    host = front.host
    operator = front.authorization(Role.operator, cards.account_id)
    tapper = front.authorization(Role.admin, cards.account_id)
    point = front.authorization(
        Role.recharge_point, cards.account_id, recharge_point_id=cards.recharge_point_id
    )

    def balance() -> bytes:
        card = random.choice(cards.tap_cards)
        return get_request(host, f"/api/v1/cards/{card}/balance", operator)

    stations = get_request(host, "/api/v1/stations", {})

    return {
        "GET /api/v1/cards/{card_id}/balance": ("read", balance),
        "GET /api/v1/stations": ("read", lambda: stations),
        "POST /api/v1/trips/start": (
            "tap",
            tap_on(cards.tap_cards, cards.station_id, tapper, host),
        ),
        "POST /api/v1/cards/recharge": (
            "recharge",
            recharge_on(cards.recharge_cards, cards.recharge_point_id, point, host),
        ),
    }


def measure_front(
    front: Front,
    single: dict[str, Any],
    *,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    cards: int,
) -> dict[str, Any]:
    """Each workload through the front, with its ratio to the single node's (`single`:
    the suite's workloads of the same run) and the CPU a request cost each role of server."""
    cluster = Cluster.attach(front.state_dir)
    recharge_cards = recharge_card_count(cards, seconds + warmup_seconds)
    made = asyncio.run(prepare_drill(front.database_url, cards, recharge_cards))
    found: dict[str, Any] = {}
    for name, (kind, request) in front_workloads(front, made).items():
        _load(front, request, clients, warmup_seconds)
        before = cpu_seconds_by_role(cluster)
        figures = _load(front, request, clients, seconds).figures()
        after = cpu_seconds_by_role(cluster)
        one_node = single.get(name, {}).get("throughput_per_s")
        ratio = round(figures["throughput_per_s"] / one_node, 3) if one_node else None
        per_request = (
            {
                role: round((after[role] - before.get(role, 0.0)) * 1000 / figures["requests"], 3)
                for role in after
            }
            if figures["requests"]
            else {}
        )
        found[name] = figures | {
            "kind": kind,
            "vs_single_node": ratio,
            "cpu_ms_per_request": per_request,
        }
    return {"url": front.url, "workloads": found}


def _load(front: Front, request: MakeRequest, clients: int, seconds: float) -> Any:
    return uvloop.run(run_load(front.host, front.port, request, clients, seconds))
