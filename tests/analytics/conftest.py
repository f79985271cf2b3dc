"""Databases of generated riders, for the analytics tests that need weeks of them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import ServerUrls, make_settings
from travel_recharge.analytics.flows.job import infer
from travel_recharge.kit.config import Settings
from travel_recharge.kit.scratch import scratch_database
from travel_recharge.seed.load import seed
from travel_recharge.seed.options import SeedOptions

GENERATED_DAYS = 56  # eight weeks: the forecast's backtest after three weeks, and more


@dataclass(frozen=True)
class Generated:
    database_url: str  # libpq form
    today: date  # the data covers the days before it


@contextmanager
def generated_database(test_servers: ServerUrls, users: int, days: int) -> Iterator[Generated]:
    """`days` of `users` generated riders up to yesterday, as `travel-recharge seed` loads
    them (the network, the cards, the trips, the rollups), in a database of its own."""
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Bogota")).date()
    with scratch_database(test_servers.server_database_url, "tr_generated") as database_url:
        options = SeedOptions(users=users, days=days, random_seed=5, until=today, workers=1)
        seed(database_url, options, progress=False)
        yield Generated(database_url, today)


@pytest.fixture(scope="session")
def generated(test_servers: ServerUrls) -> Iterator[Generated]:
    """Eight weeks of 150 generated riders; no test adds rows to it."""
    with generated_database(test_servers, 150, GENERATED_DAYS) as found:
        yield found


def settings_of(test_servers: ServerUrls, database_url: str) -> Settings:
    """Settings for a database of its own, with a cache namespace of its own (derived from the
    session's, dropped with it): its cached views are no other test's."""
    namespace = f"{test_servers.namespace}g{uuid.uuid4().hex[:8]}"
    return make_settings(test_servers, database_url=database_url, cache_namespace=namespace)


async def count_afresh(settings: Settings, database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "TRUNCATE od_days, od_locality_series, transfer_kinds, flow_series_state,"
            " od_station_series, transfer_line_series, transfer_line_day_series,"
            " transfer_place_series, rider_days, rider_snapshots"
        )
    finally:
        await connection.close()
    assert (await infer(settings, datetime.now(UTC))).startswith(f"counted {GENERATED_DAYS} days, ")
    assert await infer(settings, datetime.now(UTC)) == "up to date"


@pytest.fixture(scope="session")
def counted(generated: Generated, test_servers: ServerUrls) -> Settings:
    """The generated riders with every finished day counted by the daily job (trip flows and
    rider figures); tests that change counts put them back."""
    settings = settings_of(test_servers, generated.database_url)
    asyncio.run(count_afresh(settings, generated.database_url))
    return settings
