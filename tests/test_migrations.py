"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ServerUrls
from travel_recharge.kit.db import async_database_url
from travel_recharge.kit.scratch import admin_execute, with_database
from travel_recharge.migrations import alembic_config, upgrade_to_head_async
from travel_recharge.models import Base


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_empty_database_migrates_to_head_matching_the_models(
    test_servers: ServerUrls,
) -> None:
    name = f"tr_migrate_{uuid.uuid4().hex[:10]}"
    await admin_execute(test_servers.server_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(test_servers.server_database_url, name)
    try:
        await upgrade_to_head_async(url)
        # A second run is a no-op: `serve` migrates on every embedded start.
        await upgrade_to_head_async(url)
        engine = create_async_engine(async_database_url(url))
        async with engine.connect() as connection:
            heads = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).all()
            differences = await connection.run_sync(_differences)
        await engine.dispose()
        assert len(heads) == 1
        assert differences == []
    finally:
        await admin_execute(
            test_servers.server_database_url, f'DROP DATABASE "{name}" WITH (FORCE)'
        )


async def test_0007_deactivates_the_device_accounts_it_cannot_bind_and_downgrades(
    test_servers: ServerUrls,
) -> None:
    """Device accounts made before bindings existed cannot say which device they are: they
    stop getting tokens; people keep theirs. The migration also goes back down cleanly."""
    name = f"tr_migrate_{uuid.uuid4().hex[:10]}"
    await admin_execute(test_servers.server_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(test_servers.server_database_url, name)
    config = alembic_config(url)
    try:
        await asyncio.to_thread(command.upgrade, config, "0005")
        engine = create_async_engine(async_database_url(url))
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO accounts (login, kind, role, secret_hash) VALUES"
                    " ('old-gate', 'client', 'validator', 'h'),"
                    " ('old-kiosk', 'client', 'recharge_point', 'h'),"
                    " ('ana.analyst', 'person', 'analyst', 'h')"
                )
            )
        await upgrade_to_head_async(url)
        async with engine.connect() as connection:
            active = dict(
                (await connection.execute(text("SELECT login, active FROM accounts"))).all()
            )
        assert active == {"old-gate": False, "old-kiosk": False, "ana.analyst": True}
        await asyncio.to_thread(command.downgrade, config, "0005")
        async with engine.connect() as connection:
            columns = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM information_schema.columns"
                        " WHERE table_schema = 'public' AND (column_name = 'account_id'"
                        " OR table_name = 'accounts'"
                        " AND column_name IN ('validator_id', 'recharge_point_id'))"
                    )
                )
            ).scalar_one()
        assert columns == 0
        await upgrade_to_head_async(url)
        await engine.dispose()
    finally:
        await admin_execute(
            test_servers.server_database_url, f'DROP DATABASE "{name}" WITH (FORCE)'
        )


QUARTER_ROWS = {  # (day, station, quarter, simulated) -> boardings, as migration 0012 kept them
    ("2026-03-02", 7, 0, False): 3,
    ("2026-03-02", 7, 33, False): 5,
    ("2026-03-02", 7, 35, False): 2,
    ("2026-03-02", 7, 95, True): 4,
    ("2026-03-03", 9, 40, False): 1,
}


def _hour_rows() -> dict[tuple[str, int, int, bool], int]:
    hours: dict[tuple[str, int, int, bool], int] = {}
    for (day, station, quarter, simulated), n in QUARTER_ROWS.items():
        key = (day, station, quarter // 4, simulated)
        hours[key] = hours.get(key, 0) + n
    return hours


async def test_0016_moves_the_station_hours_and_quarters_into_timelines_and_back(
    test_servers: ServerUrls,
) -> None:
    """A station's day becomes one row of 24 hours and 96 quarters; the counts survive the
    way up and the way down."""
    name = f"tr_migrate_{uuid.uuid4().hex[:10]}"
    await admin_execute(test_servers.server_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(test_servers.server_database_url, name)
    config = alembic_config(url)
    engine = create_async_engine(async_database_url(url))
    rows_of = {
        "quarter": "SELECT day::text, station_id, quarter, simulated, trips"
        " FROM rollup_station_quarters",
        "hour": "SELECT day::text, station_id, hour, simulated, trips FROM rollup_station_hours",
    }
    try:
        await asyncio.to_thread(command.upgrade, config, "0015")
        async with engine.begin() as connection:
            for (day, station, quarter, simulated), n in QUARTER_ROWS.items():
                values = {
                    "d": date.fromisoformat(day),
                    "s": station,
                    "q": quarter,
                    "sim": simulated,
                    "n": n,
                }
                await connection.execute(
                    text("INSERT INTO rollup_station_quarters VALUES (:d, :s, :q, :sim, :n)"),
                    values,
                )
                await connection.execute(
                    text(
                        "INSERT INTO rollup_station_hours VALUES (:d, :s, :q / 4, :sim, :n)"
                        " ON CONFLICT (day, station_id, hour, simulated)"
                        " DO UPDATE SET trips = rollup_station_hours.trips + EXCLUDED.trips"
                    ),
                    values,
                )
        await upgrade_to_head_async(url)
        async with engine.connect() as connection:
            timelines = {
                (day, station, simulated): (hours, quarters)
                for day, station, simulated, hours, quarters in await connection.execute(
                    text(
                        "SELECT day::text, station_id, simulated, hours, quarters"
                        " FROM rollup_station_timelines"
                    )
                )
            }
            added = (
                await connection.execute(
                    text(
                        "SELECT add_counts(ARRAY[1, 2]::bigint[], ARRAY[3, 4]::bigint[]),"
                        " dense_counts(ARRAY[0, 3, 3], ARRAY[1, 2, 4]::bigint[], 5)"
                    )
                )
            ).one()
        assert set(timelines) == {
            ("2026-03-02", 7, False),
            ("2026-03-02", 7, True),
            ("2026-03-03", 9, False),
        }
        hours, quarters = timelines[("2026-03-02", 7, False)]
        assert (len(hours), len(quarters)) == (24, 96)
        assert (hours[0], hours[8], sum(hours)) == (3, 7, 10)
        assert (quarters[0], quarters[33], quarters[35], sum(quarters)) == (3, 5, 2, 10)
        assert timelines[("2026-03-02", 7, True)][1][95] == 4
        assert list(added) == [[4, 6], [1, 0, 0, 6, 0]]
        await asyncio.to_thread(command.downgrade, config, "0015")
        async with engine.connect() as connection:
            back = {
                period: {tuple(row[:4]): row[4] for row in await connection.execute(text(sql))}
                for period, sql in rows_of.items()
            }
        assert back == {"quarter": QUARTER_ROWS, "hour": _hour_rows()}
        await upgrade_to_head_async(url)
    finally:
        await engine.dispose()
        await admin_execute(
            test_servers.server_database_url, f'DROP DATABASE "{name}" WITH (FORCE)'
        )


async def test_0017_lists_the_cards_refused_and_records_each_change_of_status(
    test_servers: ServerUrls,
) -> None:
    """The cards refused before the upgrade are the list's first changes; afterwards the
    trigger records a change only when a card turns refused or usable, whatever statement
    does it; the downgrade removes the list and leaves cards writable."""
    name = f"tr_migrate_{uuid.uuid4().hex[:10]}"
    await admin_execute(test_servers.server_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(test_servers.server_database_url, name)
    config = alembic_config(url)
    engine = create_async_engine(async_database_url(url))
    changes = "SELECT card_id, denied FROM deny_list_changes ORDER BY version"

    async def run(*statements: str) -> None:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))

    try:
        await asyncio.to_thread(command.upgrade, config, "0016")
        await run(
            "INSERT INTO cards (id, card_number, card_type, status) VALUES"
            " (1, '0000000000000001', 'basic', 'active'),"
            " (2, '0000000000000002', 'basic', 'replaced'),"
            " (3, '0000000000000003', 'basic', 'blocked')"
        )
        await upgrade_to_head_async(url)
        await run(
            "UPDATE cards SET balance = 500 WHERE id = 1",  # not a status: nothing
            "UPDATE cards SET status = 'active' WHERE id = 1",  # the same status: nothing
            "UPDATE cards SET status = 'deactivated' WHERE id = 3",  # refused either way
            "UPDATE cards SET status = 'blocked' WHERE id = 1",
            "UPDATE cards SET status = 'active' WHERE id = 3",
            "INSERT INTO cards (id, card_number, card_type, status)"
            " VALUES (4, '0000000000000004', 'basic', 'blocked'),"
            " (5, '0000000000000005', 'basic', 'active')",
            "DELETE FROM cards WHERE id IN (2, 5)",
        )
        async with engine.connect() as connection:
            recorded = [tuple(row) for row in await connection.execute(text(changes))]
        assert recorded == [
            (2, True),
            (3, True),
            (1, True),
            (3, False),
            (4, True),
            (2, False),
        ]
        await asyncio.to_thread(command.downgrade, config, "0016")
        await run("UPDATE cards SET status = 'active' WHERE id = 1")
        async with engine.connect() as connection:
            left = await connection.execute(text("SELECT to_regclass('deny_list_changes')"))
            assert left.scalar_one() is None
        await upgrade_to_head_async(url)
    finally:
        await engine.dispose()
        await admin_execute(
            test_servers.server_database_url, f'DROP DATABASE "{name}" WITH (FORCE)'
        )


async def test_0019_to_0021_downgrade_to_what_was_there_and_upgrade_again(
    test_servers: ServerUrls,
) -> None:
    """Adjustments, web recharges and offline risks go away whole, and come back."""
    name = f"tr_migrate_{uuid.uuid4().hex[:10]}"
    await admin_execute(test_servers.server_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(test_servers.server_database_url, name)
    config = alembic_config(url)
    engine = create_async_engine(async_database_url(url))
    tables = (
        "SELECT count(*) FROM pg_tables"
        " WHERE tablename IN ('adjustments', 'web_recharges', 'offline_risks')"
    )
    index = (
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_deny_list_changes_card_id_version'"
    )

    async def count(query: str) -> int:
        async with engine.connect() as connection:
            return int((await connection.execute(text(query))).scalar_one())

    try:
        await upgrade_to_head_async(url)
        assert (await count(tables), await count(index)) == (3, 1)
        await asyncio.to_thread(command.downgrade, config, "0018")
        assert (await count(tables), await count(index)) == (0, 0)
        await upgrade_to_head_async(url)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
        await admin_execute(
            test_servers.server_database_url, f'DROP DATABASE "{name}" WITH (FORCE)'
        )
