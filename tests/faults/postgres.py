"""A PostgreSQL 15 server of a test's own, to restart, stop and start under load.

The machine's shared PostgreSQL must never be disturbed, so fault tests start their own
from Debian's postgresql-15 binaries: initdb into a scratch directory, listening on the
db-resilience site's address (127.20.1.1, helper-notes/CLUSTER.md) on a free port. As root
the server runs as the package's unprivileged `postgres` account (PostgreSQL refuses
root), the way kit.embedded runs its own. A streaming replica of it can be made with
pg_basebackup, for tests of the read path's fallback.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from travel_recharge.kit.embedded import minimal_environment

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SITE_HOST = "127.20.1.1"
SERVER_ACCOUNT = "postgres"  # made by Debian's postgresql-common, unprivileged
COMMAND_TIMEOUT_S = 60

# Trust on loopback only: these servers live for one test session on a scratch directory.
_HBA = (
    "local all all trust\nhost all all 127.0.0.0/8 trust\nhost replication all 127.0.0.0/8 trust\n"
)


def available() -> bool:
    """Whether this machine can run the servers (the binaries, and an account if root)."""
    if not (PG_BIN / "pg_ctl").exists():
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        return False
    return True


def free_port(host: str = SITE_HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalPostgres:
    """One server: its data directory, address, and the account it runs as."""

    data_dir: Path
    port: int
    host: str = SITE_HOST
    account: str | None = field(default=None)

    @classmethod
    def create(cls, root: Path, *, port: int | None = None) -> LocalPostgres:
        """initdb a fresh cluster under `root` (not started)."""
        server = cls(root / "primary", port or free_port(), account=_account())
        server._own(root)
        server._run(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth=trust",
            "--no-sync",
        )
        (server.data_dir / "pg_hba.conf").write_text(_HBA)
        return server

    @classmethod
    def replica_of(cls, primary: LocalPostgres, root: Path) -> LocalPostgres:
        """A streaming replica of the running `primary` under `root` (not started)."""
        replica = cls(root / "replica", free_port(), primary.host, primary.account)
        replica._run(
            "pg_basebackup",
            "-h",
            primary.host,
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(replica.data_dir),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",  # the default spreads the checkpoint over minutes
            "--no-sync",
        )
        return replica

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> None:
        # fsync off: the tests stop servers, never the machine, so what PostgreSQL wrote
        # survives in the page cache; a restart still replays its WAL as after a crash.
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.data_dir}"
            " -c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._ctl("start", "-w", "-l", str(self.data_dir / "server.log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "fast" ends every session with 57P01 as a restart does."""
        self._ctl("stop", "-w", "-m", mode)

    def restart(self) -> None:
        self.stop()
        self.start()

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        """Stop the server if it runs, and delete its data directory."""
        if self.postmaster_pid() is not None:
            self._ctl("stop", "-w", "-m", "immediate", check=False)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _ctl(self, *args: str, check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args, check=check)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        done = subprocess.run(
            [str(PG_BIN / program), *args],
            user=self.account,
            cwd=self.data_dir.parent,  # the server account must be able to stand there
            env=minimal_environment(dict(os.environ)),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr.strip()}")

    def _own(self, root: Path) -> None:
        if self.account is not None:
            entry = pwd.getpwnam(self.account)
            os.chown(root, entry.pw_uid, entry.pw_gid)


def _account() -> str | None:
    return SERVER_ACCOUNT if os.geteuid() == 0 else None


def scratch_root() -> Path:
    """A directory the server account can enter (pytest's own tmp is private to root)."""
    return Path(tempfile.mkdtemp(prefix="tr-dbfaults-", dir="/tmp"))
