"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ServerUrls
from travel_recharge.kit.db import async_database_url
from travel_recharge.kit.scratch import admin_execute, with_database
from travel_recharge.migrations import upgrade_to_head_async
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
