"""SQL of the seed loader: what it reads (network, policies), checks, clears and COPYs.

Bulk loading suspends what makes row-by-row COPY slow — foreign-key checks, secondary
indexes and the analytics triggers — inside the load's own transaction, and restores them
before it commits: foreign keys are re-added (PostgreSQL validates every row again in one
pass), indexes are rebuilt, and the rollups are recomputed by rebuild_rollups(). A failure
rolls all of it back together, schema included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from travel_recharge.fares.policy import policy_from_dict
from travel_recharge.kit.bulk import continue_id_sequences
from travel_recharge.seed.world import PolicyRow, RechargePointRow, RouteRow, StationRow, World

# Tables the generator fills, children first (the order TRUNCATE and ANALYZE take them in).
GENERATED_TABLES = ("ledger_entries", "trips", "recharges", "cards", "users")
# Rows the generator does not make that refer to generated ones (and to accounts): emptied
# with them, or TRUNCATE refuses.
REFERRING_TABLES = ("repricings", "offline_risks", "adjustments", "web_recharges")
# The big ones: their foreign keys and secondary indexes are suspended during the load.
BULK_TABLES = ("ledger_entries", "trips", "recharges")
# Their row triggers only maintain analytics rollups, which are rebuilt after the load.
TRIGGER_TABLES = ("trips", "users")


async def fetch_world(connection: asyncpg.Connection) -> World:
    stations = {
        row["id"]: StationRow(
            row["id"],
            row["code"],
            row["kind"],
            row["locality_code"],
            row["latitude"],
            row["longitude"],
        )
        for row in await connection.fetch(
            "SELECT id, code, kind, locality_code, latitude, longitude FROM stations"
            " WHERE active ORDER BY id"
        )
    }
    routes = {
        row["id"]: RouteRow(row["id"], row["code"], row["kind"], tuple(row["stops"]))
        for row in await connection.fetch(
            "SELECT r.id, r.code, r.kind, array_agg(rs.station_id ORDER BY rs.sequence) AS stops"
            " FROM routes r JOIN route_stops rs ON rs.route_id = r.id"
            " JOIN stations s ON s.id = rs.station_id"
            " WHERE r.active GROUP BY r.id HAVING bool_and(s.active) ORDER BY r.id"
        )
    }
    # Web top-ups are two-phase and post through another flow: seeded ones are at the counter.
    points = tuple(
        RechargePointRow(row["id"], row["channel"], row["locality_code"])
        for row in await connection.fetch(
            "SELECT id, channel, locality_code FROM recharge_points"
            " WHERE active AND channel IN ('counter', 'kiosk') ORDER BY id"
        )
    )
    policies = tuple(
        PolicyRow(row["id"], policy_from_dict(json.loads(row["document"])))
        for row in await connection.fetch(
            "SELECT id, document::text AS document FROM fare_policies ORDER BY effective_from"
        )
    )
    return World(stations, routes, points, policies)


@dataclass(frozen=True)
class Occupancy:
    users: int
    cards: int
    trips: int

    @property
    def empty(self) -> bool:
        return not (self.users or self.cards or self.trips)


async def occupancy(connection: asyncpg.Connection) -> Occupancy:
    # EXISTS-style counts would do for the decision; the numbers make the refusal clearer.
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM cards) AS cards,"
        " (SELECT count(*) FROM trips) AS trips"
    )
    assert row is not None
    return Occupancy(int(row["users"]), int(row["cards"]), int(row["trips"]))


async def lock_generated(connection: asyncpg.Connection) -> None:
    """Hold the generated tables until the load commits: nothing else writes meanwhile."""
    await connection.execute(f"LOCK TABLE {', '.join(GENERATED_TABLES)} IN EXCLUSIVE MODE")


async def clear_generated(connection: asyncpg.Connection, *, idempotency: bool) -> None:
    """Empty the generated tables and restart their ids (fare policies and network stay)."""
    tables = [
        *REFERRING_TABLES,
        *GENERATED_TABLES,
        *(["idempotency_records"] if idempotency else []),
    ]
    # Rider accounts go with their riders; staff and device accounts survive the reset
    # (TRUNCATE cannot leave out a table whose foreign key points at users).
    await connection.execute(
        "CREATE TEMP TABLE kept_accounts ON COMMIT DROP AS"
        " SELECT * FROM accounts WHERE user_id IS NULL"
    )
    await connection.execute(f"TRUNCATE {', '.join(tables)}, accounts RESTART IDENTITY")
    await connection.execute("INSERT INTO accounts SELECT * FROM kept_accounts")
    await continue_id_sequences(connection, ["accounts"])


@dataclass(frozen=True)
class Suspended:
    """Statements that put back what the bulk load took away, in order."""

    restore: tuple[str, ...]


_SUSPEND_QUERY = """
SELECT format('ALTER TABLE %s DISABLE TRIGGER %I', tgrelid::regclass, tgname) AS suspend,
       format('ALTER TABLE %s ENABLE TRIGGER %I', tgrelid::regclass, tgname) AS restore, 3 AS step
FROM pg_trigger
WHERE tgrelid = ANY($2::regclass[]) AND NOT tgisinternal AND tgenabled <> 'D'
UNION ALL
SELECT format('DROP INDEX %s', x.indexrelid::regclass), pg_get_indexdef(x.indexrelid), 1
FROM pg_index x
WHERE x.indrelid = ANY($1::regclass[]) AND NOT x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid)), 2
FROM pg_constraint
WHERE contype = 'f' AND (conrelid = ANY($1::regclass[]) OR confrelid = ANY($1::regclass[]))
ORDER BY step, suspend
"""


async def suspend_for_bulk_load(connection: asyncpg.Connection) -> Suspended:
    rows = await connection.fetch(_SUSPEND_QUERY, list(BULK_TABLES), list(TRIGGER_TABLES))
    for row in rows:
        await connection.execute(row["suspend"])
    # Index builds and foreign-key validation of millions of rows sort and hash in memory.
    await connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
    await connection.execute("SET LOCAL work_mem = '256MB'")
    return Suspended(tuple(row["restore"] for row in rows))


async def restore_after_bulk_load(connection: asyncpg.Connection, suspended: Suspended) -> None:
    for statement in suspended.restore:
        await connection.execute(statement)


async def copy_rows(
    connection: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    records: Iterable[tuple[object, ...]],
) -> None:
    await connection.copy_records_to_table(table, records=records, columns=list(columns))


async def rebuild_rollups(connection: asyncpg.Connection) -> None:
    await connection.execute("SELECT rebuild_rollups()")


async def analyze(connection: asyncpg.Connection) -> None:
    """Fresh planner statistics, so the first queries after a seed use the new indexes."""
    await connection.execute(f"ANALYZE {', '.join(GENERATED_TABLES)}")
