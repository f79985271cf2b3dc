"""The database figures the alert rules watch, as ops.probes publishes them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Network, ServerUrls, make_settings
from tests.money import new_card, recharge, tap
from tests.observability.samples import value
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.kit.db import Database
from travel_recharge.ops.probes import (
    FoldLag,
    ProbeDuty,
    check_ledger,
    measure_fold_lag,
    measure_replica,
)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.ledger_tampered
async def test_the_ledger_check_counts_the_cards_that_do_not_verify(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    cards = [await new_card(client) for _ in range(3)]
    for card_id in cards:
        assert (await recharge(client, card_id, 5000)).status_code == 201
    await check_ledger(app.state.database)
    assert value("ledger_mismatched_cards") == 0

    async with app.state.database.primary.begin() as connection:
        await connection.execute(
            text("UPDATE cards SET balance = balance + 1 WHERE id = ANY(:ids)"), {"ids": cards[:2]}
        )
    await check_ledger(app.state.database)
    assert value("ledger_mismatched_cards") == 2


async def test_fold_lag_grows_while_a_delta_waits_and_ends_when_it_is_folded(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    clock = ManualClock()
    lag = FoldLag(clock)
    database: Database = app.state.database
    await measure_fold_lag(database, lag)
    assert value("rollup_fold_lag_seconds") == 0  # nothing pending

    card_id = await new_card(client)
    assert (await recharge(client, card_id, 10000)).status_code == 201
    assert (await tap(client, card_id, station_id=network.trunk_station)).status_code == 201
    await measure_fold_lag(database, lag)
    assert value("rollup_fold_lag_seconds") == 0  # first seen now
    clock.now += 40
    await measure_fold_lag(database, lag)
    assert value("rollup_fold_lag_seconds") == 40

    assert await fold_deltas(database) == 1
    clock.now += 15
    await measure_fold_lag(database, lag)
    assert value("rollup_fold_lag_seconds") == 0


async def test_a_replica_that_does_not_answer_is_reported_down(
    app: FastAPI, test_servers: ServerUrls
) -> None:
    settings = make_settings(
        test_servers, database_replica_url="postgresql://postgres@127.0.0.1:1/tr"
    )
    database = Database.from_settings(settings)
    try:
        await measure_replica(database, settings)
        assert value("db_replica_down") == 1
        assert value("db_replica_lag_bytes") == 0
    finally:
        await database.dispose()
    # Without a replica there is nothing to be down or behind.
    await measure_replica(app.state.database, app.state.settings)
    assert (value("db_replica_down"), value("db_replica_lag_seconds")) == (0, 0)


def test_one_worker_per_metrics_directory_measures(tmp_path: Path) -> None:
    first, second = ProbeDuty(tmp_path), ProbeDuty(tmp_path)
    assert first.held() is True
    assert second.held() is False
    assert first.held() is True  # kept
    assert ProbeDuty(None).held() is True  # a process alone
