"""The cluster launcher: every role in its place, the front serving real requests, the
database roles behind HAProxy's ports, a switchover, an API node lost, and `cluster down`
leaving no process behind."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import psutil
import pytest

from tests.cluster.conftest import SITE, authorization
from tests.conftest import TEST_ACCOUNT_ID
from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.topology import READ_PORT, REDIS_PORT, WRITE_PORT
from travel_recharge.security.roles import Role

HEALTH = "/api/v1/health/db"
CLI = [sys.executable, "-m", "travel_recharge.cli", "cluster"]


def _cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--site", str(SITE), "--state-dir", str(cluster.topology.state_dir)]
    return subprocess.run(
        [*CLI, *args, *where], capture_output=True, text=True, timeout=120, check=False
    )


def _sql(cluster: Cluster, port: int, statement: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement as "postgres" through one of HAProxy's database ports."""

    async def run() -> list[asyncpg.Record]:
        url = cluster.topology.database_url("postgres", port=port)
        connection = await asyncpg.connect(url, timeout=10)
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


def test_status_names_every_role_and_the_cli_agrees(cluster: Cluster) -> None:
    status = cluster.wait_healthy()
    assert sorted(str(node.role) for node in status.postgres) == [
        "leader",
        "replica",
        "sync_standby",
    ]
    [sync] = status.postgres_with_role("sync_standby")
    [replica] = status.postgres_with_role("replica")
    assert (sync.streaming, sync.sync_state) == (True, "sync")
    assert replica.streaming
    assert replica.sync_state in ("async", "potential")
    assert isinstance(sync.lag_bytes, int)
    assert isinstance(replica.lag_bytes, int)

    master = status.redis_master
    assert master is not None
    master_address = f"{master.address}:{REDIS_PORT}"
    replicas = [node for node in status.redis if node is not master]
    assert [(node.role, node.master, node.link_up) for node in replicas] == [
        ("slave", master_address, True)
    ] * 2
    assert master.replicas == 2
    assert [sentinel.master for sentinel in status.sentinels] == [master_address] * 3

    assert status.front_health == 200
    assert [api.health for api in status.api] == [200, 200]
    assert status.urls["front"] == f"http://127.{SITE}.3.100:8000"
    assert status.problems() == []

    printed = _cli(cluster, "status", "--json")
    assert printed.returncode == 0, printed.stderr
    body = json.loads(printed.stdout)
    assert {n["name"]: n["role"] for n in body["postgres"]} == {
        n.name: n.role for n in status.postgres
    }
    assert body["problems"] == []
    assert body["memory_mb"]["postgres"] > 0
    assert body["memory_mb"]["total"] > body["memory_mb"]["postgres"]


def test_the_front_serves_a_recharge_and_the_balance_with_a_real_token(cluster: Cluster) -> None:
    cluster.wait_healthy()
    # Recharges record the account that made them and the point of sale they happened at.
    _sql(
        cluster,
        WRITE_PORT,
        "INSERT INTO accounts (id, login, kind, role, secret_hash, active)"
        " VALUES ($1, 'cluster-test', 'person', 'admin', '!', false) ON CONFLICT DO NOTHING",
        TEST_ACCOUNT_ID,
    )
    [point] = _sql(
        cluster,
        WRITE_PORT,
        "INSERT INTO recharge_points (id, name, channel) VALUES"
        " ((SELECT coalesce(max(id), 0) + 1 FROM recharge_points), 'Taquilla cluster', 'counter')"
        " RETURNING id",
    )
    point_id = int(point["id"])
    # Ids given by hand: the sequences must move past them, or the next rows made in the
    # cluster's database (the fault drills' account and counter) would be given them too.
    for sequence, taken in (
        ("accounts_id_seq", TEST_ACCOUNT_ID),
        ("recharge_points_id_seq", point_id),
    ):
        _sql(
            cluster,
            WRITE_PORT,
            f"SELECT setval('{sequence}', greatest(last_value, $1)) FROM {sequence}",  # noqa: S608
            taken,
        )
    operator = authorization(Role.operator)
    cashier = authorization(Role.recharge_point, recharge_point_id=point_id)
    with httpx.Client(base_url=cluster.topology.front_url, timeout=10) as front:
        health = front.get(HEALTH)
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert front.post("/api/v1/cards", json={"card_type": "basic"}).status_code == 401

        card = front.post("/api/v1/cards", json={"card_type": "basic"}, headers=operator)
        assert card.status_code == 201, card.text
        card_id = card.json()["card_id"]
        recharge = front.post(
            "/api/v1/cards/recharge",
            json={"card_id": card_id, "amount": 7_500, "recharge_point_id": point_id},
            headers=cashier | {"Idempotency-Key": uuid.uuid4().hex},
        )
        assert recharge.status_code == 201, recharge.text
        assert recharge.json()["new_balance"] == 7_500

        balance = front.get(f"/api/v1/cards/{card_id}/balance", headers=operator)
        assert balance.status_code == 200, balance.text
        assert balance.json()["balance"] == 7_500


def test_a_write_through_the_write_port_is_read_on_a_replica_through_the_read_port(
    cluster: Cluster,
) -> None:
    status = cluster.wait_healthy()
    leader = status.leader
    assert leader is not None
    replicas = {node.address for node in status.postgres if node.role != "leader"}
    where = "SELECT pg_is_in_recovery() AS recovering, host(inet_server_addr()) AS address"
    [writer] = _sql(cluster, WRITE_PORT, where)
    [reader] = _sql(cluster, READ_PORT, where)
    assert (writer["recovering"], writer["address"]) == (False, leader.address)
    assert reader["recovering"] is True
    assert reader["address"] in replicas

    table = f"cluster_probe_{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    _sql(cluster, WRITE_PORT, f"CREATE TABLE {table} (token text)")
    # (The table's name is ours, not input: only the token is a value.)
    _sql(cluster, WRITE_PORT, f"INSERT INTO {table} VALUES ($1)", token)  # noqa: S608
    try:
        # The synchronous standby has the commit; a replica applies it a moment later.
        deadline = time.monotonic() + 30
        seen: list[asyncpg.Record] = []
        while not seen and time.monotonic() < deadline:
            seen = _sql(cluster, READ_PORT, f"SELECT token FROM {table}")  # noqa: S608
            time.sleep(0 if seen else 0.2)
        assert [row["token"] for row in seen] == [token]
    finally:
        _sql(cluster, WRITE_PORT, f"DROP TABLE IF EXISTS {table}")


def test_a_switchover_moves_the_leader_and_the_old_leader_rejoins_as_a_replica(
    healthy_cluster: Cluster,
) -> None:
    cluster = healthy_cluster
    before = cluster.status()
    old_leader = before.leader
    assert old_leader is not None

    new_name = cluster.switchover()

    assert new_name != old_leader.name
    after = cluster.wait_healthy()
    assert after.leader is not None
    assert after.leader.name == new_name
    [old] = [node for node in after.postgres if node.name == old_leader.name]
    assert old.role in ("sync_standby", "replica")
    assert old.streaming
    assert (old.timeline or 0) > (old_leader.timeline or 0)
    [writer] = _sql(cluster, WRITE_PORT, "SELECT host(inet_server_addr()) AS address")
    assert writer["address"] == after.leader.address


def test_a_switchover_to_a_node_that_is_not_the_sync_standby_is_refused(
    cluster: Cluster,
) -> None:
    status = cluster.wait_healthy()
    [replica] = status.postgres_with_role("replica")
    refused = _cli(cluster, "switchover", "--to", replica.name)
    assert refused.returncode == 2
    assert "not the synchronous standby" in refused.stderr
    assert cluster.status().leader == status.leader


def test_the_front_answers_while_an_api_node_is_down(healthy_cluster: Cluster) -> None:
    cluster = healthy_cluster
    victim = cluster.topology.node("api1")

    cluster.kill("api1")

    # The fault is real: the node itself no longer answers...
    with pytest.raises(httpx.ConnectError):
        httpx.get(cluster.topology.api_url(victim) + HEALTH, timeout=2)
    # ...yet every request through the front does, before and after HAProxy notices.
    with httpx.Client(base_url=cluster.topology.front_url, timeout=10) as front:
        codes = [front.get(HEALTH).status_code for _ in range(20)]
    assert codes == [200] * 20
    noticed = cluster.wait_for(
        "HAProxy to take api1 out",
        30,
        lambda s: [] if s.haproxy_servers.get("api-nodes/api1") == "DOWN" else ["api1 in use"],
    )
    assert "api1 is not healthy" in noticed.problems()

    cluster.start("api1")
    back = cluster.wait_healthy()
    assert [api.health for api in back.api] == [200, 200]
    assert back.haproxy_servers["api-nodes/api1"] == "UP"


def _processes_of(cluster: Cluster) -> list[psutil.Process]:
    """Every live process that runs from the state directory, names it on its command line,
    or has its TR_DATA_DIR there (Redis rewrites its command line; it runs from its node's
    directory like every server)."""
    marker = str(cluster.topology.state_dir)
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            places = [process.cwd(), " ".join(process.cmdline())]
            places.append(process.environ().get("TR_DATA_DIR", ""))
        except psutil.Error:
            continue
        if any(marker in place for place in places):
            found.append(process)
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.cluster_last
def test_cluster_down_leaves_no_process(cluster: Cluster) -> None:
    cluster.wait_healthy()
    topology = cluster.topology
    running = _processes_of(cluster)
    # The check sees the cluster while it runs: servers, PostgreSQL backends, API workers.
    names = {process.name() for process in running}
    assert {"etcd", "haproxy", "postgres", "redis-server"} <= names
    assert len(running) > 20
    endpoints = [(topology.front_address, 8000), (topology.database_proxy_address, WRITE_PORT)]
    endpoints += [(node.address, REDIS_PORT) for node in topology.redis]
    assert all(_listening(*endpoint) for endpoint in endpoints)
    # As after a launcher killed between starting servers and writing their pid files:
    # `down` must find these by themselves.
    for name in ("pg2", "redis2", "sentinel3", "api2", "haproxy"):
        (topology.run_dir / f"{name}.pid").unlink()
    # Someone's process that merely sits in the state directory is not the cluster's.
    bystander = subprocess.Popen(["sleep", "300"], cwd=topology.state_dir)

    try:
        stopped = _cli(cluster, "down")
        assert bystander.poll() is None, "down stopped a process that is not a server"
    finally:
        bystander.kill()
        bystander.wait()

    assert stopped.returncode == 0, stopped.stderr
    assert _processes_of(cluster) == []
    assert [process.pid for process in running if _alive(process)] == []
    assert list(topology.run_dir.glob("*.pid")) == []
    assert not any(_listening(*endpoint) for endpoint in endpoints)
