"""The service's own database role: what the served workers may do, and nothing more.

The schema belongs to the role that runs the migrations (the owner); the workers connect as
another role that may read and write rows, call our functions and use sequences, but not
create, alter, drop or truncate anything, run `COPY ... PROGRAM` or read server files. A flaw
in a request handler then cannot reach past the data the service already handles.

`grant_service_role` is idempotent and runs as the owner: the embedded launcher calls it on
every start and after every upgrade; in production `travel-recharge migrate` calls it when
TR_DATABASE_MIGRATION_URL and TR_DATABASE_URL name different roles, and `travel-recharge db
grant --role NAME` does it by hand. Default privileges cover the tables, sequences and
functions later migrations create, so a worker never meets a table it may not use.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from sqlalchemy.engine import make_url

from travel_recharge.kit.scratch import libpq_url

# Unquoted PostgreSQL identifiers only: the name is spliced into DDL.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Rows the service may never change once written: the ledger is append-only (a trigger
# refuses too; without the privilege the refusal does not even depend on the trigger), and
# Alembic's version row belongs to the migrations.
READ_INSERT_ONLY = ("ledger_entries", "deny_list_changes")
READ_ONLY = ("alembic_version",)


class RoleProblem(ValueError):
    """The role name is not acceptable, or the role is missing, or it is a superuser."""


def role_of(url: str) -> str | None:
    """The user name a database URL connects as (None when the URL names none)."""
    return make_url(url).username


def check_role_name(role: str) -> str:
    if not _ROLE_NAME.match(role):
        raise RoleProblem(
            f"role: {role!r} is not a plain PostgreSQL name (lowercase letters, digits, _)"
        )
    return role


def _statements(role: str) -> list[str]:
    # Everything below names `role` quoted; check_role_name has already vetted it.
    r = f'"{role}"'
    dml = "SELECT, INSERT, UPDATE, DELETE"
    statements = [
        # PostgreSQL 14 and older let everyone create tables in public; 15+ already do not.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT {dml} ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {r}",
        # Objects the owner creates later (new migrations) come with the same privileges.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {dml} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO {r}",
    ]
    return statements


def _narrowing(role: str, existing: set[str]) -> list[str]:
    # Tables not made yet (a fresh database) are narrowed by the grant after the upgrade.
    revokes = [(t, "UPDATE, DELETE") for t in READ_INSERT_ONLY]
    revokes += [(t, "INSERT, UPDATE, DELETE") for t in READ_ONLY]
    return [f'REVOKE {what} ON TABLE {t} FROM "{role}"' for t, what in revokes if t in existing]


async def grant_service_role_async(owner_url: str, role: str, *, create: bool = False) -> None:
    """Give `role` what the served workers need on the database of `owner_url`.

    With `create`, a missing role is made (LOGIN, no password: the embedded server trusts its
    unix socket); otherwise it must exist. A superuser role is refused: it would make the
    whole exercise pointless.
    """
    check_role_name(role)
    connection = await asyncpg.connect(libpq_url(owner_url))
    try:
        async with connection.transaction():
            found = await connection.fetchrow(
                "SELECT rolsuper FROM pg_roles WHERE rolname = $1", role
            )
            if found is None and not create:
                raise RoleProblem(f"role: {role!r} does not exist; create it first (CREATE ROLE)")
            if found is not None and found["rolsuper"]:
                raise RoleProblem(f"role: {role!r} is a superuser; the service must not be one")
            if found is None:
                await connection.execute(
                    f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
                    "NOREPLICATION NOBYPASSRLS"
                )
            # TEMPORARY: the rollup fold builds its input in a temporary table.
            await connection.execute(
                await connection.fetchval(
                    "SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I',"
                    " current_database(), $1::text)",
                    role,
                )
            )
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            existing = {row["tablename"] for row in tables}
            for statement in [*_statements(role), *_narrowing(role, existing)]:
                await connection.execute(statement)
    finally:
        await connection.close()


def grant_service_role(owner_url: str, role: str, *, create: bool = False) -> None:
    """grant_service_role_async for the command line (runs its own event loop)."""
    asyncio.run(grant_service_role_async(owner_url, role, create=create))
