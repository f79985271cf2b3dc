"""Seeding the test database: COPY, a ledger that verifies, refusal, reset, the command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ServerUrls, ledger_ok
from tests.seed.conftest import UNTIL, small
from tests.seed.replay import postings, replay_card
from travel_recharge.fares.policy import policy_from_dict
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.seed.load import (
    DatabaseNotEmpty,
    SeedRefused,
    SeedReport,
    seed,
    seed_demo_if_empty,
)
from travel_recharge.seed.options import SeedOptions

pytestmark = pytest.mark.usefixtures("clean")

LAUNCHER = Path(sys.executable).parent / "travel-recharge"
TABLES = ("users", "cards", "recharges", "trips", "ledger_entries")


async def _seed(servers: ServerUrls, options: SeedOptions, *, reset: bool = False) -> SeedReport:
    # seed() runs its own event loops: off the test's loop, in a thread.
    return await asyncio.to_thread(
        seed, servers.database_url, options, reset=reset, progress=False, migrate=False
    )


async def _connect(servers: ServerUrls) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(servers.database_url))


async def _fingerprints(servers: ServerUrls) -> dict[str, str]:
    """A digest of every generated row, ids included."""
    connection = await _connect(servers)
    try:
        return {
            table: await connection.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {table} t"  # noqa: S608
            )
            for table in TABLES
        }
    finally:
        await connection.close()


async def _schema(servers: ServerUrls) -> list[tuple[str, ...]]:
    """Constraints, indexes and trigger states: what a bulk load suspends must come back."""
    connection = await _connect(servers)
    try:
        rows = await connection.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),"
            " convalidated::text"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " UNION ALL SELECT tablename, indexname, indexdef, '' FROM pg_indexes"
            " WHERE schemaname = 'public'"
            " UNION ALL SELECT tgrelid::regclass::text, tgname, tgenabled::text, ''"
            " FROM pg_trigger WHERE NOT tgisinternal"
        )
        return sorted(tuple(r) for r in rows)
    finally:
        await connection.close()


async def test_seeded_money_verifies_and_replays_through_the_fare_engine(
    test_servers: ServerUrls, client: httpx.AsyncClient
) -> None:
    schema = await _schema(test_servers)
    report = await _seed(test_servers, small(users=120, days=10))
    assert await _schema(test_servers) == schema
    assert report.trips > 500
    await ledger_ok(client)
    connection = await _connect(test_servers)
    try:
        counts = [await connection.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES]  # noqa: S608
        assert counts == [
            report.users,
            report.cards,
            report.recharges,
            report.trips,
            report.ledger_entries,
        ]
        policies = [
            (r["id"], policy_from_dict(json.loads(r["document"])))
            for r in await connection.fetch("SELECT id, document::text FROM fare_policies")
        ]
        trips = {r["id"]: r for r in await connection.fetch("SELECT * FROM trips")}
        recharges = {r["id"]: r for r in await connection.fetch("SELECT * FROM recharges")}
        ledger = await connection.fetch(
            "SELECT card_id, kind, amount, balance_after, recharge_id, trip_id"
            " FROM ledger_entries ORDER BY card_id, id"
        )
        by_card = postings([tuple(r) for r in ledger], trips, recharges)
        checked = 0
        for card in await connection.fetch("SELECT * FROM cards ORDER BY id"):
            checked += replay_card(card, by_card.get(card["id"], []), policies)
        assert checked == report.trips
        # The rollups the triggers would have kept were rebuilt from the rows.
        assert await connection.fetchval("SELECT sum(trips) FROM rollup_totals") == report.trips
        assert await connection.fetchval("SELECT total_users FROM rollup_users") == report.users
    finally:
        await connection.close()
    # The id sequences continue after the copied ids.
    created = await client.post("/api/v1/users", json={"full_name": "Nueva", "document_id": "X-1"})
    assert created.json()["user_id"] == report.users + 1


async def test_refuses_a_database_with_riders_unless_reset(
    test_servers: ServerUrls, client: httpx.AsyncClient
) -> None:
    options = small(users=60, days=5)
    await _seed(test_servers, options)
    first = await _fingerprints(test_servers)
    with pytest.raises(DatabaseNotEmpty, match="--reset"):
        await _seed(test_servers, options)
    assert await _fingerprints(test_servers) == first
    await _seed(test_servers, small(users=60, days=5, seed=99), reset=True)
    assert await _fingerprints(test_servers) != first
    await _seed(test_servers, options, reset=True)
    assert await _fingerprints(test_servers) == first  # same seed, same rows and ids
    before_fares = SeedOptions(users=10, days=5, random_seed=1, until=date(2023, 1, 10))
    with pytest.raises(SeedRefused, match="no fare policy is in force on 2023-01-05"):
        await _seed(test_servers, before_fares, reset=True)
    assert await _fingerprints(test_servers) == first
    await ledger_ok(client)


def _command(servers: ServerUrls, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_DATABASE_URL": servers.database_url, "TR_REDIS_URL": servers.redis_url}
    return subprocess.run(
        [str(LAUNCHER), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_the_command_with_two_workers_loads_the_same_rows(test_servers: ServerUrls) -> None:
    options = small(users=80, days=5)
    await _seed(test_servers, options)
    in_process = await _fingerprints(test_servers)
    flags = ["--users", "80", "--days", "5", "--random-seed", "7", "--until", UNTIL.isoformat()]
    refused = await asyncio.to_thread(_command, test_servers, "seed", *flags, "--quiet")
    assert refused.returncode == 2
    assert "already has 80 users" in refused.stderr
    assert "--reset" in refused.stderr
    done = await asyncio.to_thread(
        _command, test_servers, "seed", *flags, "--workers", "2", "--reset"
    )
    assert done.returncode == 0, done.stderr
    assert "trips" in done.stdout
    assert "seed" in done.stderr  # the progress bar
    assert await _fingerprints(test_servers) == in_process
    verified = await asyncio.to_thread(_command, test_servers, "ledger", "verify")
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["ok"] is True


async def test_demo_data_is_loaded_once(test_servers: ServerUrls) -> None:
    first = await asyncio.to_thread(
        seed_demo_if_empty, test_servers.database_url, UNTIL, "America/Bogota", users=40, days=3
    )
    assert first is not None
    assert first.users == 40
    loaded = await _fingerprints(test_servers)
    again = await asyncio.to_thread(
        seed_demo_if_empty, test_servers.database_url, UNTIL, "America/Bogota", users=40, days=3
    )
    assert again is None
    assert await _fingerprints(test_servers) == loaded
