"""`travel-recharge serve` in embedded mode keeps its secrets and its superuser to itself.

The embedded servers start with a minimal environment (no TR_* variable: the signing key the
launcher generates stays in the launcher and its workers), the workers connect to PostgreSQL
as the service's own role, not the superuser, and that role cannot run programs on the
database server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_launcher import (  # noqa: F401  (no_leftovers: a fixture)
    _free_port,
    _launch,
    _server_pids,
    _sql,
    _stop,
    _wait_healthy,
    no_leftovers,
)
from travel_recharge.kit.embedded import APP_ROLE

pytestmark = pytest.mark.e2e


def _environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if entry)
    return {name.decode(): value.decode(errors="replace") for name, _, value in pairs}


def _as_app_role(workdir: Path, statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(
            host=str(workdir / ".data" / "postgres"), user=APP_ROLE, database="travel_recharge"
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.mark.usefixtures("no_leftovers")
def test_embedded_servers_get_no_secrets_and_workers_are_not_superuser(tmp_path: Path) -> None:
    port = _free_port()
    launcher = _launch(tmp_path, port)
    try:
        _wait_healthy(port, launcher)
        # Something that reads the database, so a worker's pool holds connections.
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/stations?limit=1").status_code == 200
        postgres_pid, _ = _server_pids(tmp_path)
        # The launcher puts the signing key it generates (and the workers' URLs) in its own
        # environment before it starts the servers; the postmaster, whose environment every
        # server process and `COPY ... PROGRAM` inherit, must not have any of it. (Valkey
        # writes its process title over its environment block: /proc cannot show it.)
        environment = _environment_of(postgres_pid)
        assert "PATH" in environment
        assert [name for name in environment if name.startswith("TR_")] == []

        sessions = _sql(
            tmp_path,
            "SELECT a.usename, r.rolsuper FROM pg_stat_activity a"
            " JOIN pg_roles r ON r.oid = a.usesysid"
            " WHERE a.application_name = 'travel-recharge'",
        )
        assert sessions, "the workers hold no database connection"
        assert {(row["usename"], row["rolsuper"]) for row in sessions} == {(APP_ROLE, False)}

        for statement in (
            "CREATE TEMP TABLE leak (line text); COPY leak FROM PROGRAM 'env'",
            "CREATE TABLE intruder (note text)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                _as_app_role(tmp_path, statement)
    finally:
        _stop(launcher)
