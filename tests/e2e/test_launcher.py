"""`travel-recharge serve` with no TR_* URLs: embedded servers up, served, and cleaned up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

pytestmark = pytest.mark.e2e

LAUNCHER = Path(sys.executable).parent / "travel-recharge"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_LAUNCHED: list[subprocess.Popen[bytes]] = []


def _launch(workdir: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    log = (workdir / f"launcher-{port}.log").open("ab")
    launcher = subprocess.Popen(
        [str(LAUNCHER), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _LAUNCHED.append(launcher)
    return launcher


def _wait_healthy(port: int, launcher: subprocess.Popen[bytes], timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert launcher.poll() is None, "the launcher exited before becoming healthy"
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            body: dict = response.json()
            if response.status_code == 200 and body["status"] == "ok":
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("service did not become healthy in time")


def _server_pids(workdir: Path) -> tuple[int, int]:
    data = workdir / ".data"
    postgres = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
    valkey = int((data / "valkey" / "valkey.pid").read_text().strip())
    return postgres, valkey


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _postgres_processes_of(workdir: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(attrs=["pid", "name", "cmdline"]):
        if proc.info["name"] == "postgres" and any(
            str(workdir) in part for part in proc.info["cmdline"] or []
        ):
            found.append(proc.info["pid"])
    return found


def _sql(workdir: Path, *statements: str) -> list[asyncpg.Record]:
    """Run statements on the embedded database; returns the last one's rows."""

    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(
            host=str(workdir / ".data" / "postgres"), user="postgres", database="travel_recharge"
        )
        try:
            rows: list[asyncpg.Record] = []
            for statement in statements:
                rows = list(await connection.fetch(statement))
            return rows
        finally:
            await connection.close()

    return asyncio.run(run())


def _stop(launcher: subprocess.Popen[bytes]) -> int:
    launcher.send_signal(signal.SIGTERM)
    return launcher.wait(timeout=60)


@pytest.mark.usefixtures("no_leftovers")
def test_serve_with_workers_then_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    port = _free_port()
    launcher = _launch(tmp_path, port, workers=2)
    try:
        health = _wait_healthy(port, launcher)
        assert health["components"]["db"]["status"] == "ok"
        assert health["components"]["cache"]["status"] == "ok"
        postgres_pid, valkey_pid = _server_pids(tmp_path)
        assert _running(postgres_pid)
        assert _running(valkey_pid)
        docs = httpx.get(f"http://127.0.0.1:{port}/docs")
        assert docs.status_code == 200
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
        _demo_accounts_work(tmp_path, port)
    finally:
        exit_code = _stop(launcher)
    assert exit_code in (0, 128 + signal.SIGTERM)
    assert not _running(postgres_pid)
    assert not _running(valkey_pid)
    assert _postgres_processes_of(tmp_path) == []
    assert not (tmp_path / ".data" / "launcher.pid").exists()


def _demo_accounts_work(workdir: Path, port: int) -> None:
    """One account per role in the data directory, printed once, good at every worker."""
    path = workdir / ".data" / "demo-credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    accounts = json.loads(path.read_text())["accounts"]
    assert {account["role"] for account in accounts} == {
        "rider", "validator", "recharge_point", "analyst", "operator", "admin"
    }  # fmt: skip
    printed = (workdir / f"launcher-{port}.log").read_text()
    assert "Demo accounts (new secrets;" in printed
    base = f"http://127.0.0.1:{port}"
    for account in accounts:
        form = {
            k: v
            for k, v in account.items()
            if k not in ("role", "user_id", "validator_id", "recharge_point_id")
        }
        response = httpx.post(f"{base}/api/v1/auth/token", data=form)
        assert response.status_code == 200, (account["role"], response.text)
        token = response.json()["access_token"]
        # Fresh connections land on either worker: the signing key is the launcher's.
        for _ in range(6):
            me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
            assert me.json()["role"] == account["role"]
    rider = next(account for account in accounts if account["role"] == "rider")
    assert rider["user_id"] >= 1
    for account in accounts:
        assert str(account.get("password") or account["client_secret"]) in printed


@pytest.fixture
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    """Whatever a failing test leaves running under tmp_path is stopped afterwards."""
    yield
    while _LAUNCHED:
        launcher = _LAUNCHED.pop()
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                launcher.kill()
    for pid in _postgres_processes_of(tmp_path):
        _kill(pid, signal.SIGINT)
    valkey_pid_file = tmp_path / ".data" / "valkey" / "valkey.pid"
    if valkey_pid_file.exists():
        _kill(int(valkey_pid_file.read_text().strip()), signal.SIGTERM)


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


@pytest.mark.usefixtures("no_leftovers")
def test_sigkilled_launcher_orphans_are_cleaned_and_data_is_kept(tmp_path: Path) -> None:
    port = _free_port()
    first = _launch(tmp_path, port)
    _wait_healthy(port, first)
    _sql(tmp_path, "CREATE TABLE kept (note text)", "INSERT INTO kept VALUES ('before the crash')")
    orphan_postgres, orphan_valkey = _server_pids(tmp_path)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert _running(orphan_postgres)
    assert _running(orphan_valkey)

    second = _launch(tmp_path, port)
    try:
        _wait_healthy(port, second)
        assert not _running(orphan_postgres)
        assert not _running(orphan_valkey)
        assert [r["note"] for r in _sql(tmp_path, "SELECT note FROM kept")] == ["before the crash"]
        # The demo secrets were printed at the first start only; the second points at them.
        log = (tmp_path / f"launcher-{port}.log").read_text()
        assert log.count("Demo accounts (new secrets;") == 1
        assert log.count("Demo accounts: see ") == 1
        postgres_pid, valkey_pid = _server_pids(tmp_path)
    finally:
        _stop(second)
    assert not _running(postgres_pid)
    assert not _running(valkey_pid)
    assert _postgres_processes_of(tmp_path) == []


@pytest.mark.usefixtures("no_leftovers")
def test_second_launcher_on_the_same_data_refuses(tmp_path: Path) -> None:
    port = _free_port()
    first = _launch(tmp_path, port)
    try:
        _wait_healthy(port, first)
        second = _launch(tmp_path, _free_port())
        assert second.wait(timeout=30) == 2
        log = (tmp_path / f"launcher-{port}.log").read_text()
        assert "launcher.refused" not in log  # the first one is unaffected
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()["status"] == "ok"
    finally:
        _stop(first)
