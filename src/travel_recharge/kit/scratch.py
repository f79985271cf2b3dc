"""Scratch databases: created on a server for one job (a benchmark) and dropped after it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url


def libpq_url(url: str) -> str:
    """The libpq form of a URL (no "+driver"), as asyncpg and pgbench take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def admin_execute(url: str, statement: str) -> None:
    """Run one administrative statement (CREATE/DROP DATABASE) outside a transaction."""
    connection = await asyncpg.connect(libpq_url(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new empty database on the server of `server_url`, dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield libpq_url(with_database(server_url, name))
    finally:
        asyncio.run(admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
