"""Databases of generated riders, for the analytics tests that need weeks of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ServerUrls
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
