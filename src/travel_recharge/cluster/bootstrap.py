"""The application's database on a fresh cluster, made through HAProxy's write port.

What `travel-recharge migrate` and `travel-recharge db grant` do, run once the Patroni leader
has its synchronous standby: the database, the schema (Alembic, as the owner "postgres"),
the service's role (APP_ROLE, no DDL rights) and, with --demo, the demo dataset and one
account per role, as `make run` gives a fresh machine. Going through port 5000 rather than
a node's own address proves the write path the API nodes will use.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from travel_recharge.accounts.demo import DemoCredentials, describe, ensure_demo_accounts
from travel_recharge.cluster.topology import DATABASE_NAME, SUPERUSER, Topology
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database
from travel_recharge.kit.embedded import APP_ROLE
from travel_recharge.kit.scratch import libpq_url, with_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.migrations.grants import grant_service_role
from travel_recharge.security.access import TOKEN_PATH


def prepare_database(topology: Topology) -> None:
    """Create the database if missing, upgrade it to head, grant APP_ROLE what it needs."""
    owner_url = topology.database_url(SUPERUSER)
    asyncio.run(_create_database(with_database(owner_url, "postgres")))
    upgrade_to_head(owner_url)
    grant_service_role(owner_url, APP_ROLE, create=True)


async def _create_database(server_url: str) -> None:
    connection = await asyncpg.connect(libpq_url(server_url))
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()


def seed_demo(topology: Topology, timezone: str) -> str:
    """The network, the demo riders and their history, and the demo accounts (their
    secrets in <state>/demo-credentials.json, mode 0600); returns what to tell the user."""
    from travel_recharge.seed.load import seed_demo_if_empty

    owner_url = topology.database_url(SUPERUSER)
    # The city's today: the seed's data ends the day before, as `serve` seeds it.
    seed_demo_if_empty(owner_url, datetime.now(ZoneInfo(timezone)).date(), timezone)
    settings = Settings(database_url=owner_url, database_replica_url=None)
    token_url = topology.front_url + TOKEN_PATH
    return describe(asyncio.run(_demo_accounts(settings, topology, token_url)))


async def _demo_accounts(settings: Settings, topology: Topology, token_url: str) -> DemoCredentials:
    database = Database.from_settings(settings)
    try:
        return await ensure_demo_accounts(database, topology.state_dir, token_url)
    finally:
        await database.dispose()
