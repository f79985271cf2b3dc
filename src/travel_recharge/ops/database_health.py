"""Database health: does the primary answer, which role does its URL reach, and the
replica's role, reachability and lag.

HAProxy routes to an API node while GET /api/v1/health/db answers 200, which it does while
the primary answers (a replica that is down only sends reads to the primary). Both servers
are asked side by side, each within the health timeout, so a hung replica never delays the
answer HAProxy waits for.

The lag is measured in bytes of WAL: the primary's current position minus the replica's
replay position. Chosen over "now minus pg_last_xact_replay_timestamp()", which grows
without bound on an idle primary (nothing new to replay is not falling behind) — the bytes
are 0 then — and which cannot tell a replica that stopped receiving from one with nothing
to receive. Seconds are given beside them for people: 0 when caught up, else the age of
the newest transaction replayed. (Patroni's maximum_lag_on_failover counts bytes too.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from travel_recharge.kit.db import Database
from travel_recharge.ops.schemas import DatabaseHealth, DatabaseRole, ReplicaHealth

# One statement for either server. pg_current_wal_lsn() fails during recovery, hence the
# CASE; on a primary pg_last_xact_replay_timestamp() is null.
_ROLE_AND_POSITION = text(
    "SELECT pg_is_in_recovery() AS in_recovery,"
    " (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    "  ELSE pg_current_wal_lsn() END)::text AS lsn,"
    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_s"
)


@dataclass(frozen=True)
class _Probe:
    latency_ms: float
    in_recovery: bool
    lsn: int | None  # WAL position: written (primary) or replayed (replica)
    replay_age_s: float | None

    @property
    def role(self) -> DatabaseRole:
        return "replica" if self.in_recovery else "primary"


async def check_database(database: Database, timeout_s: float) -> DatabaseHealth:
    """The primary's health and role, and the replica's when one is configured."""
    replica_engine = database.replica_health or database.replica
    checks = [_probe(database.health or database.primary, timeout_s)]
    if replica_engine is not None:
        checks.append(_probe(replica_engine, timeout_s))
    found = await asyncio.gather(*checks, return_exceptions=True)
    primary = found[0]
    replica = (
        _replica_health(found[1], primary, database.read_sessions.replica_down)
        if replica_engine is not None
        else None
    )
    if not isinstance(primary, _Probe):
        return DatabaseHealth(status="down", latency_ms=None, detail=_why(primary), replica=replica)
    return DatabaseHealth(
        status="ok", latency_ms=primary.latency_ms, role=primary.role, replica=replica
    )


async def _probe(engine: AsyncEngine, timeout_s: float) -> _Probe:
    started = time.perf_counter()
    async with asyncio.timeout(timeout_s), engine.connect() as connection:
        row = (await connection.execute(_ROLE_AND_POSITION)).one()
    return _Probe(
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        in_recovery=bool(row.in_recovery),
        lsn=parse_lsn(row.lsn),
        replay_age_s=row.replay_age_s,
    )


def _replica_health(
    found: _Probe | BaseException, primary: _Probe | BaseException, reads_on_primary: bool
) -> ReplicaHealth:
    if not isinstance(found, _Probe):
        return ReplicaHealth(
            status="down",
            latency_ms=None,
            role=None,
            lag_bytes=None,
            lag_s=None,
            reads_on_primary=reads_on_primary,
            detail=_why(found),
        )
    lag_bytes = _lag_bytes(found, primary)
    lag_s = None
    if lag_bytes == 0:
        lag_s = 0.0
    elif lag_bytes is not None and found.replay_age_s is not None:
        lag_s = round(max(0.0, found.replay_age_s), 3)
    return ReplicaHealth(
        status="ok",
        latency_ms=found.latency_ms,
        role=found.role,
        lag_bytes=lag_bytes,
        lag_s=lag_s,
        reads_on_primary=reads_on_primary,
    )


def _lag_bytes(replica: _Probe, primary: _Probe | BaseException) -> int | None:
    if not (replica.in_recovery and isinstance(primary, _Probe) and not primary.in_recovery):
        return None  # no replica behind a primary to compare
    if primary.lsn is None or replica.lsn is None:
        return None
    # Asked side by side: the replica may have replayed past the position the primary
    # reported a moment earlier.
    return max(0, primary.lsn - replica.lsn)


def parse_lsn(lsn: str | None) -> int | None:
    """A WAL position as PostgreSQL writes it ("16/B374D848") as a byte offset."""
    if lsn is None:
        return None
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _why(exc: BaseException) -> str:
    # The kind of failure only: no address, SQL or driver message reaches a client.
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
