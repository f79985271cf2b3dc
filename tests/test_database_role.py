"""The service's database role (migrations.grants): enough to serve, nothing to reshape.

A fresh non-superuser role, granted by the routine, serves a card issue, a recharge, a tap and
the rollup fold through the real app, and is refused DDL, TRUNCATE, ledger rewrites,
`COPY ... PROGRAM` and server files.
"""

from __future__ import annotations

import asyncio
import uuid
from argparse import Namespace
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Network, ServerUrls, ledger_ok, make_settings, start_app
from tests.money import balance, new_card, recharge, tap
from travel_recharge import cli
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.kit.config import get_settings
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.migrations.grants import (
    RoleProblem,
    grant_service_role_async,
    role_of,
)


async def _owner(servers: ServerUrls, *statements: str) -> None:
    connection = await asyncpg.connect(libpq_url(servers.database_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _as_role(servers: ServerUrls, role: str) -> str:
    return (
        make_url(servers.database_url)
        .set(username=role, password=None)
        .render_as_string(hide_password=False)
    )


@pytest.fixture
async def fresh_role(test_servers: ServerUrls) -> AsyncIterator[str]:
    """A new LOGIN role with no privileges (roles are server-wide: dropped afterwards)."""
    role = f"tr_app_{uuid.uuid4().hex[:10]}"
    await _owner(test_servers, f'CREATE ROLE "{role}" LOGIN')
    try:
        yield role
    finally:
        # DROP OWNED revokes its privileges and default privileges in the session database.
        await _owner(test_servers, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')


async def test_a_granted_role_serves_a_recharge_and_a_tap(
    test_servers: ServerUrls, fresh_role: str, network: Network
) -> None:
    await grant_service_role_async(test_servers.database_url, fresh_role)
    settings = make_settings(test_servers, database_url=_as_role(test_servers, fresh_role))
    async for app, client in start_app(settings):
        async with app.state.database.primary.connect() as connection:
            who = await connection.exec_driver_sql(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            assert tuple(who.one()) == (fresh_role, False)
        card_id = await new_card(client, "personalized")
        assert (await recharge(client, card_id, 10_000)).status_code == 201
        tapped = await tap(client, card_id, station_id=network.trunk_station)
        assert tapped.status_code == 201, tapped.text
        assert tapped.json()["balance_after"] == 10_000 - tapped.json()["fare_charged"] > 0
        assert await balance(client, card_id) == tapped.json()["balance_after"]
        # The workers' rollup fold (a temporary table, an advisory lock) runs as the role too.
        assert await fold_deltas(app.state.database) == 1
        assert (await client.get("/api/v1/trips/total")).json()["total_trips"] == 1
        await ledger_ok(client)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (note text)",
        "DROP TABLE cards",
        "ALTER TABLE cards ADD COLUMN note text",
        "TRUNCATE trips",
        "UPDATE ledger_entries SET amount = 0",
        "DELETE FROM ledger_entries",
        "DELETE FROM alembic_version",
        "CREATE TEMP TABLE out (line text); COPY out FROM PROGRAM 'env'",
        "COPY (SELECT 1) TO PROGRAM 'cat'",
        "SELECT pg_read_file('PG_VERSION')",
    ],
)
async def test_a_granted_role_cannot_reshape_the_database_or_reach_the_server(
    test_servers: ServerUrls, fresh_role: str, statement: str
) -> None:
    await grant_service_role_async(test_servers.database_url, fresh_role)
    connection = await asyncpg.connect(libpq_url(_as_role(test_servers, fresh_role)))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_granting_is_idempotent_and_covers_tables_of_later_migrations(
    test_servers: ServerUrls, fresh_role: str
) -> None:
    await grant_service_role_async(test_servers.database_url, fresh_role)
    await grant_service_role_async(test_servers.database_url, fresh_role)
    table = f"later_{uuid.uuid4().hex[:8]}"
    # What a later migration does as the owner, without granting anything itself.
    await _owner(test_servers, f"CREATE TABLE {table} (id bigserial PRIMARY KEY, note text)")
    try:
        connection = await asyncpg.connect(libpq_url(_as_role(test_servers, fresh_role)))
        try:
            await connection.execute(f"INSERT INTO {table} (note) VALUES ('x')")  # noqa: S608
            assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 1  # noqa: S608
        finally:
            await connection.close()
    finally:
        await _owner(test_servers, f"DROP TABLE {table}")


async def test_grant_refuses_missing_superuser_and_odd_roles(test_servers: ServerUrls) -> None:
    with pytest.raises(RoleProblem, match="does not exist"):
        await grant_service_role_async(test_servers.database_url, "tr_no_such_role")
    with pytest.raises(RoleProblem, match="superuser"):
        await grant_service_role_async(test_servers.database_url, "postgres")
    with pytest.raises(RoleProblem, match="plain PostgreSQL name"):
        await grant_service_role_async(test_servers.database_url, 'x"; DROP TABLE cards; --')


def test_role_of_a_url() -> None:
    assert role_of("postgresql://travel_recharge_app@/travel_recharge?host=/tmp") == (
        "travel_recharge_app"
    )
    assert role_of("postgresql://owner:secret@db:5432/tr") == "owner"


async def _can_read_cards(servers: ServerUrls, role: str) -> bool:
    connection = await asyncpg.connect(libpq_url(_as_role(servers, role)))
    try:
        await connection.fetchval("SELECT count(*) FROM cards")
        return True
    except asyncpg.InsufficientPrivilegeError:
        return False
    finally:
        await connection.close()


@pytest.fixture
def configured(test_servers: ServerUrls, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands' environment: the session's servers (no embedded ones)."""
    monkeypatch.setenv("TR_DATABASE_URL", test_servers.database_url)
    monkeypatch.setenv("TR_REDIS_URL", test_servers.redis_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("configured")
async def test_db_grant_command_grants_an_existing_role_and_refuses_a_missing_one(
    test_servers: ServerUrls, fresh_role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not await _can_read_cards(test_servers, fresh_role)
    missing = await asyncio.to_thread(cli.cmd_db_grant, Namespace(role="tr_nobody_here"))
    assert missing == 2
    assert "role: 'tr_nobody_here' does not exist" in capsys.readouterr().err
    assert await asyncio.to_thread(cli.cmd_db_grant, Namespace(role=fresh_role)) == 0
    assert await _can_read_cards(test_servers, fresh_role)


async def test_migrate_grants_the_services_role_when_the_owner_migrates(
    test_servers: ServerUrls, fresh_role: str
) -> None:
    """Production: TR_DATABASE_MIGRATION_URL is the owner, TR_DATABASE_URL the service."""
    settings = make_settings(
        test_servers,
        database_url=_as_role(test_servers, fresh_role),
        database_migration_url=test_servers.database_url,
    )
    assert settings.migration_url == test_servers.database_url
    assert not await _can_read_cards(test_servers, fresh_role)
    await asyncio.to_thread(cli.migrate, settings)
    assert await _can_read_cards(test_servers, fresh_role)
