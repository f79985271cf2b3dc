"""Fault drills on the real cluster: no acknowledged peso lost when any one server dies.

Each test runs a drill (cluster.drill: taps and recharges from several client threads,
retried with the same tap_id or Idempotency-Key, every acknowledgement logged), injects one
fault while it runs, waits until writes are acknowledged again, stops the drill and holds
the database to the clients' log (cluster.checker). The control test runs the same fault as
the leader's loss with asynchronous replication: there the checker must find lost writes,
or it is not checking.

Every test leaves the cluster healthy (all nodes back, one leader, a synchronous standby,
Sentinels agreeing on a master) for the next. Each fault's figures are written to
test-artifacts/cluster-faults.json: the README's table is made from them.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from tests.cluster.conftest import authorization
from tests.cluster.faults import (
    DEFAULT_MAXIMUM_LAG,
    PATIENCE_S,
    Scored,
    drill_plan,
    record,
    replication_stalled,
    score,
    set_replication,
    superuser_url,
)
from travel_recharge.cluster.drill.fleet import running
from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.profiles import LAB
from travel_recharge.cluster.waiting import wait_until
from travel_recharge.security.roles import Role

pytestmark = pytest.mark.cluster

# Writes acknowledged before a fault (the drill is under way) and after it (the service
# took writes again): counts, not durations, so a slow machine only makes a test longer.
WARM = 40
AFTER = 40
# How long the replicas stay stalled before the leader dies: the fault's shape, not a verdict.
STALL_S = 1.5


def assert_nothing_lost(scored: Scored) -> None:
    verdict = scored.verdict
    assert verdict.lost == [], verdict.summary()
    assert verdict.applied_twice == [], verdict.summary()
    assert verdict.unexplained == [], verdict.summary()
    assert verdict.wrong_answer == [], verdict.summary()
    assert verdict.ledger_mismatches == [], verdict.summary()
    assert scored.log.server_errors == 0, scored.log.statuses()
    assert scored.answer_problems == [], scored.answer_problems
    assert verdict.acknowledged_taps > 0
    assert verdict.acknowledged_recharges > 0


def other_leader(cluster: Cluster, old: str) -> str | None:
    leader = cluster.status().leader
    return leader.name if leader is not None and leader.name != old else None


def lose_the_leader_with_replication_stalled(
    cluster: Cluster, *, acknowledged_during_stall: int
) -> tuple[Scored, dict[str, object]]:
    """The drill; the leader's WAL senders stalled; the leader killed (-9, Patroni and
    PostgreSQL) while they are; a new leader; writes again. With synchronous replication no
    write is acknowledged during the stall; with asynchronous ones are, and are lost."""
    plan = drill_plan(cluster)
    old = cluster.resolve("pg-leader").name
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        with replication_stalled(cluster):
            if acknowledged_during_stall:
                drill.wait_for_acknowledged(acknowledged_during_stall)
            else:
                time.sleep(STALL_S)
            killed_at = time.monotonic()
            cluster.kill(old)
        new = wait_until("a new leader", PATIENCE_S, lambda: other_leader(cluster, old))
        drill.wait_for_acknowledged(AFTER)
    scored = score(cluster, drill.log, plan.cards)
    figures: dict[str, object] = {
        "old_leader": old,
        "new_leader": new,
        "acknowledged_after_the_kill": drill.log.acknowledged_between(killed_at, time.monotonic()),
    }
    return scored, figures


def test_the_leader_lost_loses_no_acknowledged_write_and_rejoins_as_a_replica(
    healthy_cluster: Cluster,
) -> None:
    """Faults 1 and 4: kill -9 of the leader's Patroni and PostgreSQL under load."""
    cluster = healthy_cluster
    scored, figures = lose_the_leader_with_replication_stalled(cluster, acknowledged_during_stall=0)
    assert_nothing_lost(scored)
    assert figures["acknowledged_after_the_kill"] > 0
    old = str(figures["old_leader"])
    cluster.start(old)

    def rejoined() -> bool:
        status = cluster.status()
        node = next(n for n in status.postgres if n.name == old)
        leader = status.leader
        return (
            node.role in ("replica", "sync_standby")
            and node.streaming
            and leader is not None
            and node.timeline == leader.timeline
        )

    wait_until(f"{old} streaming from the new leader on its timeline", PATIENCE_S, rejoined)
    record("PostgreSQL leader killed (kill -9, replicas stalled at that instant)", scored, cluster)


def test_control_with_asynchronous_replication_the_checker_finds_lost_writes(
    healthy_cluster: Cluster,
) -> None:
    """Fault 8: the same fault with asynchronous replication (and no lag limit on failover):
    writes acknowledged while the replicas were stalled die with the leader, and the checker
    must say so — else it is not checking."""
    cluster = healthy_cluster
    set_replication(cluster, synchronous=False, maximum_lag=1 << 40)
    try:
        wait_until(
            "no synchronous standby",
            PATIENCE_S,
            lambda: not cluster.status().postgres_with_role("sync_standby"),
        )
        scored, _ = lose_the_leader_with_replication_stalled(cluster, acknowledged_during_stall=30)
    finally:
        wait_until("a leader to configure", PATIENCE_S, lambda: cluster.status().leader)
        set_replication(cluster, synchronous=True, maximum_lag=DEFAULT_MAXIMUM_LAG)
    assert len(scored.verdict.lost) > 0, (scored.verdict.summary(), scored.log.statuses())
    assert scored.verdict.ledger_mismatches == []  # lost whole: the survivors still add up
    record("control: the same with asynchronous replication", scored, cluster)


def test_the_synchronous_standby_lost_writes_go_on(healthy_cluster: Cluster) -> None:
    """Fault 2: kill -9 of the synchronous standby; the other replica becomes it."""
    cluster = healthy_cluster
    plan = drill_plan(cluster)
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        standby = cluster.kill("pg-sync").name
        killed_at = time.monotonic()

        def other_standby() -> str | None:
            found = cluster.status().postgres_with_role("sync_standby")
            return found[0].name if found and found[0].name != standby else None

        wait_until("another synchronous standby", PATIENCE_S, other_standby)
        drill.wait_for_acknowledged(AFTER)
        while_down = drill.log.acknowledged_between(killed_at, time.monotonic())
    scored = score(cluster, drill.log, plan.cards)
    assert_nothing_lost(scored)
    assert while_down >= AFTER
    record("synchronous standby killed", scored, cluster)


def test_a_switchover_loses_nothing(healthy_cluster: Cluster) -> None:
    """Fault 3: a planned switchover under load."""
    cluster = healthy_cluster
    plan = drill_plan(cluster)
    old = cluster.resolve("pg-leader").name
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        new = cluster.switchover()
        drill.wait_for_acknowledged(AFTER)
    assert new != old
    scored = score(cluster, drill.log, plan.cards)
    assert_nothing_lost(scored)
    record("planned switchover", scored, cluster)


def test_the_redis_master_lost_no_request_fails_and_no_card_view_is_stale(
    healthy_cluster: Cluster,
) -> None:
    """Fault 5: kill -9 of the Redis master; Sentinel promotes a replica."""
    cluster = healthy_cluster
    plan = drill_plan(cluster)
    old = cluster.resolve("redis-master")
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        cluster.kill(old.name)
        wait_until(
            "the Sentinels naming another master",
            PATIENCE_S,
            lambda: (master := cluster.status().sentinel_master) and old.address not in master,
        )
        drill.wait_for_acknowledged(AFTER)
    scored = score(cluster, drill.log, plan.cards)
    assert_nothing_lost(scored)
    assert scored.log.failed_requests == 0, scored.log.statuses()
    assert stale_card_views(cluster, plan.cards.all_cards) == []
    record("Redis master killed", scored, cluster)


def stale_card_views(cluster: Cluster, cards: list[int]) -> list[tuple[int, int, int]]:
    """(card, balance served through the front, balance in PostgreSQL) where they differ."""

    async def stored() -> dict[int, int]:
        connection = await asyncpg.connect(superuser_url(cluster))
        try:
            rows = await connection.fetch(
                "SELECT id, balance FROM cards WHERE id = ANY($1::bigint[])", cards
            )
        finally:
            await connection.close()
        return {row["id"]: row["balance"] for row in rows}

    in_database = asyncio.run(stored())
    stale = []
    headers = authorization(Role.operator)
    with httpx.Client(base_url=cluster.topology.front_url, headers=headers, timeout=10) as http:
        for card in cards:
            served = http.get(f"/api/v1/cards/{card}/balance")
            assert served.status_code == 200, served.text
            if served.json()["balance"] != in_database[card]:
                stale.append((card, served.json()["balance"], in_database[card]))
    return stale


def test_an_api_node_lost_no_tap_fails_or_is_charged_twice(healthy_cluster: Cluster) -> None:
    """Fault 6: kill -9 of an API node (its launcher and workers); HAProxy routes around it
    and the devices' retries with the same tap_id settle every operation once."""
    cluster = healthy_cluster
    plan = drill_plan(cluster)
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        cluster.kill("api1")
        drill.wait_for_acknowledged(AFTER)
    scored = score(cluster, drill.log, plan.cards)
    assert_nothing_lost(scored)
    assert scored.verdict.in_doubt == 0, scored.verdict.summary()
    record("one API node killed", scored, cluster)


def test_etcd_lost_the_leader_keeps_accepting_writes(healthy_cluster: Cluster) -> None:
    """Fault 7: kill -9 of etcd. Without failsafe_mode the leader would demote itself once
    its key's ttl ran out; with it, it keeps its role while it reaches every member."""
    cluster = healthy_cluster
    plan = drill_plan(cluster)
    leader = cluster.resolve("pg-leader").name
    with running(plan) as drill:
        drill.wait_for_acknowledged(WARM)
        cluster.kill("etcd")
        # Twice the leader key's lifetime: the behaviour under test is what happens after it.
        past_ttl = time.monotonic() + 2 * LAB.ttl
        wait_until("the leader key's ttl to pass", 4 * LAB.ttl, lambda: time.monotonic() > past_ttl)
        drill.wait_for_acknowledged(AFTER)
        after_ttl = drill.log.acknowledged_between(past_ttl, time.monotonic())
        still_leader = cluster.status().leader
    scored = score(cluster, drill.log, plan.cards)
    assert_nothing_lost(scored)
    assert after_ttl >= AFTER
    assert still_leader is not None
    assert still_leader.name == leader
    record("etcd killed (failsafe_mode)", scored, cluster)
