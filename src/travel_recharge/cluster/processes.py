"""Server processes of the cluster: started detached, found again from pid files, killed.

Each server is a real process in a session of its own (so a Ctrl-C at the launcher, or the
launcher's death, touches none of them, and `kill -9` of a node reaches everything that
node started). Its pid file, `<state>/run/<node>.pid`, holds the pid and the process's start
time: a pid reused by an unrelated process after a reboot or a long pause is never signalled.

Patroni and PostgreSQL refuse to run as root, and no engine needs to: as root the launcher
runs etcd, Patroni/PostgreSQL, HAProxy, Redis and Sentinel as the unprivileged user
`travel-recharge` (created on first use, the way kit/embedded's PostgreSQL does it), with a
minimal environment, so no server inherits the launcher's TR_* secrets
(kit.embedded.minimal_environment). API nodes are our own `serve` (Command.unprivileged).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from travel_recharge.cluster.waiting import ClusterError

SERVICE_USER = "travel-recharge"
# Fast enough for `cluster down`, long enough for PostgreSQL's fast shutdown under load.
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Account:
    """Whom the servers run as: `user` None means the launcher's own user (not root)."""

    user: str | None
    uid: int
    gid: int

    def own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)


def service_account() -> Account:
    """The launcher's user, or `travel-recharge` (created if missing) when that is root."""
    if os.geteuid() != 0:
        return Account(None, os.getuid(), os.getgid())
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                *("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"),
                *("--shell", "/usr/sbin/nologin", SERVICE_USER),
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SERVICE_USER)
    return Account(SERVICE_USER, entry.pw_uid, entry.pw_gid)


def check_reachable(directory: Path, account: Account) -> None:
    """Every parent of `directory` must let the service user through (a state directory
    under /root, or under pytest's 0700 temporary root, would not); the launcher opens the
    state directory itself (servers.write_configuration)."""
    if account.user is None:
        return
    for parent in directory.parents:
        if not parent.exists():
            continue
        status = parent.stat()
        others_pass = status.st_mode & 0o001
        owner_pass = status.st_uid == account.uid and status.st_mode & 0o100
        if not (others_pass or owner_pass):
            raise ClusterError(
                f"{parent} does not let the user {account.user} through (mode "
                f"{status.st_mode & 0o777:o}); choose a state directory outside it"
            )


@dataclass(frozen=True)
class Command:
    argv: list[str]
    environment: Mapping[str, str]
    cwd: Path
    log: Path
    # API nodes run as the launcher's own user: they are our `serve`, whose interpreter and
    # code may live where only that user can read (a pyenv under /root, a checkout).
    unprivileged: bool = True


# The servers this process started and has not seen exit. A launcher that stays alive (the
# test session) must reap a server that died, or it lingers as a zombie; a CLI launcher
# exits and its servers are re-parented, so this only matters to long-lived callers.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


class ProcessTable:
    """The pid files of one cluster's servers."""

    def __init__(self, run_dir: Path, account: Account) -> None:
        self.run_dir = run_dir
        self.account = account

    def spawn(self, name: str, command: Command) -> psutil.Process:
        """Start `command` detached as the service user; its pid file is written at once,
        so even a launcher killed right after still leaves a trace `cluster down` finds."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        user = self.account.user if command.unprivileged else None
        with command.log.open("ab") as log:
            process = subprocess.Popen(
                command.argv,
                cwd=command.cwd,
                env=dict(command.environment),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=self.account.gid if user else None,
                extra_groups=[] if user else None,
            )
        handle = psutil.Process(process.pid)
        self._pid_file(name).write_text(f"{process.pid} {handle.create_time()}\n")
        _CHILDREN[process.pid] = process
        return handle

    def process(self, name: str) -> psutil.Process | None:
        """The live server started as `name`, if its pid file names one."""
        try:
            pid_text, started_text = self._pid_file(name).read_text().split()
            pid = int(pid_text)
            _reap(pid)
            process = psutil.Process(pid)
            if abs(process.create_time() - float(started_text)) > 0.05:
                return None  # the pid now belongs to another process
            return process if process.status() != psutil.STATUS_ZOMBIE else None
        except (OSError, ValueError, psutil.Error):
            return None

    def names(self) -> list[str]:
        """Every name with a pid file (alive or not)."""
        if not self.run_dir.is_dir():
            return []
        return sorted(path.stem for path in self.run_dir.glob("*.pid"))

    def forget(self, name: str) -> None:
        self._pid_file(name).unlink(missing_ok=True)

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The PostgreSQL server of `data_dir` (Patroni starts it in a session of its own)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        process = psutil.Process(pid)
        if process.name() != "postgres" or str(data_dir) not in " ".join(process.cmdline()):
            return None
        return process if process.status() != psutil.STATUS_ZOMBIE else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def descendants(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Every live descendant of these processes, found now (before a kill orphans them)."""
    found: list[psutil.Process] = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            found += process.children(recursive=True)
    return found


def kill_each(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL each process itself: for those outside their parent's process group."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()


def kill_groups(processes: Iterable[psutil.Process], sig: signal.Signals) -> None:
    """Signal each process's whole process group: a server and what it forked into its group
    (uvicorn's workers) go together. PostgreSQL's backends are not in it (they call setsid):
    a kill that must reach them finds them with `descendants`."""
    own_group = os.getpgrp()
    for process in processes:
        try:
            group = os.getpgid(process.pid)
            if group == own_group:  # never our own: the server was not started detached
                process.send_signal(sig)
            else:
                os.killpg(group, sig)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue


def stop(
    processes: list[psutil.Process], *, groups: bool = True, timeout_s: float = STOP_TIMEOUT_S
) -> None:
    """SIGTERM (each engine's clean shutdown), then SIGKILL whatever is left; to each
    process's group (servers we started), or only to the process itself (`groups` False:
    strays, whose group we did not make)."""
    signal_all = kill_groups if groups else _signal_each
    signal_all(processes, signal.SIGTERM)
    alive = wait_gone(processes, timeout_s)
    if alive:
        signal_all(alive, signal.SIGKILL)
        wait_gone(alive, timeout_s)


def _signal_each(processes: Iterable[psutil.Process], sig: signal.Signals) -> None:
    for process in processes:
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            continue


def leftovers(state_dir: Path, account: Account) -> list[psutil.Process]:
    """Processes of this cluster no pid file names: a server whose launcher died before
    writing it, or PostgreSQL left behind by a killed Patroni. Only the service user's
    processes and ours, and never this launcher or its parents (whose command line may name
    the state directory too)."""
    ours = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for process in psutil.process_iter(attrs=["pid", "uids"]):
        if process.pid in ours or process.info["uids"] is None:
            continue
        if process.info["uids"].real not in (account.uid, os.getuid()):
            continue
        if belongs_to(process, state_dir):
            found.append(process)
    return found


# The engines' process names (Sentinel is redis-server too; Patroni is a Python script).
ENGINE_NAMES = frozenset({"postgres", "etcd", "haproxy", "redis-server"})


def belongs_to(process: psutil.Process, state_dir: Path) -> bool:
    """Whether `process` is a server of the cluster in `state_dir`: an engine (or Patroni)
    running from there or naming it (Redis rewrites its command line; every server starts
    in its node's directory), or an API node or worker whose TR_DATA_DIR is there. A shell
    someone left in that directory is none of these, and is left alone."""
    marker = str(state_dir)
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if process.environ().get("TR_DATA_DIR", "").startswith(marker):
            return True
        command = " ".join(process.cmdline())
        engine = process.name() in ENGINE_NAMES or "patroni" in command
        return engine and (marker in process.cwd() or marker in command)
    except psutil.Error:
        return False


def wait_gone(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until none of `processes` runs; those still running after `timeout_s`.

    A zombie counts as gone: a server started by another launcher that is still alive (the
    test session, when `cluster down` runs from a shell) stays a zombie until that launcher
    reaps it, and waiting for it to vanish would wait forever."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [process for process in processes if _running(process)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    _reap(process.pid)
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
