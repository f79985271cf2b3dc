"""What the fault tests do to the cluster beyond `cluster kill`, and how they keep score.

- replication_stalled: the leader's WAL senders stopped (SIGSTOP) for a moment, so at the
  instant of a crash the replicas lag behind it. On one machine's loopback a replica is
  otherwise never far behind, and a leader's loss would lose nothing even with asynchronous
  replication: a test that cannot lose cannot show that synchronous replication is why
  nothing was lost.
- set_replication: Patroni's dynamic configuration (PATCH /config at the leader, what
  `patronictl edit-config` does), for the control drill's asynchronous replication.
- score: the checker's verdicts on the database and on the answers (cluster.checker).
- record: each fault's figures, in test-artifacts/cluster-faults.json for the README.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.cluster.conftest import authorization
from travel_recharge.cluster import servers
from travel_recharge.cluster.checker import Verdict, check_answers, check_drill
from travel_recharge.cluster.drill.cards import DrillCards, DrillPlan, prepare_drill
from travel_recharge.cluster.drill.log import DrillLog
from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.processes import postmaster
from travel_recharge.kit.config import Settings

ARTIFACT = Path("test-artifacts") / "cluster-faults.json"
# Patroni's default: a replica further behind than this is never promoted automatically.
DEFAULT_MAXIMUM_LAG = 1_048_576
# How long a fault test waits for the cluster to do something (generous: the machine is
# shared, and only the outcome is the verdict).
PATIENCE_S = 120.0


@dataclass
class Scored:
    """A drill's log and the checker's verdicts on it: the database's and the answers'."""

    log: DrillLog
    verdict: Verdict
    answer_problems: list[str]


def superuser_url(cluster: Cluster) -> str:
    """The schema owner through HAProxy's write port: always the current leader."""
    return cluster.topology.database_url("postgres")


def drill_plan(cluster: Cluster, *, tap_cards: int = 400, recharge_cards: int = 100) -> DrillPlan:
    cards = asyncio.run(prepare_drill(superuser_url(cluster), tap_cards, recharge_cards))
    return DrillPlan.authorized(cluster.topology.front_url, cards, authorization)


def retry_after_s(cluster: Cluster) -> int:
    """The Retry-After the API nodes put on a 503 (their settings, else the default)."""
    settings = servers.load_api_settings(cluster.topology)
    default = Settings.model_fields["db_unavailable_retry_after_s"].default
    return int(settings.get("TR_DB_UNAVAILABLE_RETRY_AFTER_S", default))


def score(cluster: Cluster, log: DrillLog, cards: DrillCards) -> Scored:
    verdict = asyncio.run(check_drill(superuser_url(cluster), log, cards))
    return Scored(log, verdict, check_answers(log, retry_after_s(cluster), behind_proxy=True))


def _wal_senders(cluster: Cluster) -> list[psutil.Process]:
    leader = cluster.resolve("pg-leader")
    main = postmaster(servers.node_data_dir(cluster.topology, leader))
    assert main is not None, f"{leader.name} has no postmaster"
    return [p for p in main.children() if "walsender" in " ".join(p.cmdline())]


@contextmanager
def replication_stalled(cluster: Cluster) -> Iterator[list[psutil.Process]]:
    """The leader's WAL senders stopped for the block (SIGSTOP), then let go if still alive.

    The senders, not the replicas' receivers: a stopped receiver still has its socket, and
    whatever the sender wrote before a crash waits in the kernel's buffer for it to read."""
    senders = _wal_senders(cluster)
    assert senders, "no WAL sender to stall: no replica streams from the leader"
    for sender in senders:
        sender.send_signal(signal.SIGSTOP)
    try:
        yield senders
    finally:
        for sender in senders:
            with suppress(psutil.NoSuchProcess):
                sender.send_signal(signal.SIGCONT)


def set_replication(cluster: Cluster, *, synchronous: bool, maximum_lag: int) -> None:
    """Patroni's dynamic configuration, changed at the leader for every node."""
    leader = cluster.status().leader
    assert leader is not None, "no leader to change the configuration at"
    url = cluster.topology.patroni_url(cluster.topology.node(leader.name)) + "/config"
    change = {"synchronous_mode": synchronous, "maximum_lag_on_failover": maximum_lag}
    response = httpx.patch(url, json=change, timeout=10)
    assert response.status_code == 200, response.text


def record(fault: str, scored: Scored, cluster: Cluster, **extra: Any) -> dict[str, Any]:
    """The fault's row of the README's table, kept in test-artifacts/cluster-faults.json."""
    log, verdict = scored.log, scored.verdict
    row = {
        "fault": fault,
        "writes_acknowledged": verdict.acknowledged,
        "longest_gap_without_writes_s": round(log.longest_gap(), 2),
        "longest_wait_of_one_write_s": round(log.longest_write_wait(), 2),
        "acknowledged_writes_lost": len(verdict.lost),
        "applied_twice": len(verdict.applied_twice) + len(verdict.unexplained),
        "failed_requests": log.failed_requests,
        "answers_500": log.server_errors,
        "in_doubt": verdict.in_doubt,
        "cluster_memory_mb": cluster.memory().get("total"),
    } | extra
    ARTIFACT.parent.mkdir(exist_ok=True)
    rows = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    rows[fault] = row
    temporary = ARTIFACT.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(rows, indent=2) + "\n")
    temporary.replace(ARTIFACT)
    return row
