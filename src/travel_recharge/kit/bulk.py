"""Helpers for bulk loads with COPY, shared by the network loader and the seed."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


async def continue_id_sequences(connection: asyncpg.Connection, tables: Iterable[str]) -> None:
    """After COPY with explicit ids, make the service's own inserts continue after them.

    The next id is max + 1 (1 on an empty table): setval(..., false) means "not used yet".
    Table names come from the code, never from a client.
    """
    for table in tables:
        await connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
            f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )
