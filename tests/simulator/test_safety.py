"""The simulator never moves real money (security issue #18, finding 1).

It refuses to start in production unless enabled, rides only riders, cards and points of sale
it made for itself (marked simulated), stops when the operator who started it is deactivated,
and removes everything it made on request, leaving a ledger that verifies.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ServerUrls, bearer, client_for, ledger_ok, make_settings, start_app
from tests.simulator.conftest import (
    SIMULATED_RIDERS,
    START,
    STATUS,
    STOP,
    LiveServer,
    Operator,
    Riders,
    real_account,
    real_cards_state,
    until_it_has_charged_taps,
    wait_for_status,
)
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.security.roles import Role
from travel_recharge.simulator.service import Simulator

DATA = "/api/v1/simulator/data"
# Every table the simulator's rows or their consequences live in, counted.
SIMULATED_ROWS = {
    "users": "SELECT count(*) FROM users WHERE simulated",
    "cards": "SELECT count(*) FROM cards WHERE simulated",
    "trips": "SELECT count(*) FROM trips WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "recharges": "SELECT count(*) FROM recharges"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "ledger_entries": "SELECT count(*) FROM ledger_entries"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "recharge_points": "SELECT count(*) FROM recharge_points WHERE simulated",
    "accounts": "SELECT count(*) FROM accounts WHERE simulated",
    "idempotency_records": "SELECT count(*) FROM idempotency_records WHERE key LIKE 'sim-%'",
    "rollup_rows": "SELECT (SELECT count(*) FROM rollup_deltas WHERE simulated)"
    " + (SELECT count(*) FROM rollup_totals WHERE simulated)"
    " + (SELECT count(*) FROM rollup_hours WHERE simulated)"
    " + (SELECT count(*) FROM rollup_station_days WHERE simulated)"
    " + (SELECT count(*) FROM rollup_station_timelines WHERE simulated)",
}


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.database.primary.connect() as connection:
        return (await connection.exec_driver_sql(sql)).scalar_one()


async def _simulated_rows(app: FastAPI) -> dict[str, int]:
    return {name: int(await _scalar(app, sql)) for name, sql in SIMULATED_ROWS.items()}


ROLLUPS = ("deltas", "totals", "hours", "station_days", "station_timelines")


async def _simulated_rollups(app: FastAPI) -> dict[str, list[Any]]:
    """Each rollup's simulated rows, to say where a count of them that should be 0 is not
    (this test has seen 2 rows left once in a while, in no table it named)."""
    found = {}
    for name in ROLLUPS:
        sql = f"SELECT * FROM rollup_{name} WHERE simulated"  # noqa: S608  (constant names)
        async with app.state.database.primary.connect() as connection:
            found[name] = [tuple(row) for row in await connection.exec_driver_sql(sql)]
    return found


async def _run_until_it_has_charged(live: httpx.AsyncClient, taps: int) -> dict[str, Any]:
    """A run at 20 events/s, stopped once it has charged `taps` taps; its final status."""
    started = await live.post(START, json={"rate": 20, "minutes": 1})
    assert started.status_code == 202, started.text
    await until_it_has_charged_taps(live, taps)
    stopped = await live.post(STOP)
    assert stopped.json()["state"] == "stopped", stopped.text
    final: dict[str, Any] = stopped.json()
    return final


async def test_in_production_the_simulator_refuses_to_start_unless_enabled(
    app: FastAPI,
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
    test_servers: ServerUrls,
) -> None:
    account_id, _ = await real_account(app, Role.admin)
    simulator: Simulator = app.state.simulator
    for enabled in (None, False):  # production's default, and disabled explicitly
        explicit = {} if enabled is None else {"simulator_enabled": enabled}
        settings = make_settings(
            test_servers, env="production", self_url=live_server.url, **explicit
        )
        async for production, _ in start_app(settings):
            admin = client_for(production, bearer(production, Role.admin, account_id=account_id))
            refused = await admin.post(START, json={"rate": 5, "minutes": 1})
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"] == "simulator_disabled"
            assert "TR_SIMULATOR_ENABLED=true" in refused.json()["detail"]
            assert (await admin.get(STATUS)).json()["state"] == "stopped"
        assert await app.state.cache.redis.exists(simulator.control.lease_key) == 0
        left = await _simulated_rows(app)
        assert left == dict.fromkeys(SIMULATED_ROWS, 0), await _simulated_rollups(app)

    # An operator who decides otherwise says so.
    settings = make_settings(
        test_servers, env="production", self_url=live_server.url, simulator_enabled=True
    )
    async for production, _ in start_app(settings):
        admin = client_for(production, bearer(production, Role.admin, account_id=account_id))
        started = await admin.post(START, json={"rate": 5, "minutes": 1})
        assert started.status_code == 202, started.text
        assert (await admin.post(STOP)).json()["state"] == "stopped"


async def test_a_run_touches_only_the_simulators_own_riders_cards_and_points(
    app: FastAPI, client: httpx.AsyncClient, live: httpx.AsyncClient, riders: Riders
) -> None:
    real = await real_cards_state(app)
    assert len(real) == len(riders.funded) + len(riders.empty)
    real_points = (
        "SELECT count(*) FROM recharges"
        " WHERE recharge_point_id IN (SELECT id FROM recharge_points WHERE NOT simulated)"
    )
    sales_at_real_points = await _scalar(app, real_points)

    final = await _run_until_it_has_charged(live, 21)
    counters = final["counters"]
    assert counters["taps_charged"] > 20
    assert counters["errors"] == 0

    # Not one real card moved: balances, trips, recharges, ledger entries all as they were.
    assert await real_cards_state(app) == real
    assert await _scalar(app, real_points) == sales_at_real_points
    # The simulator's own did: every trip is one of theirs, funded at its own points.
    rows = await _simulated_rows(app)
    assert rows["cards"] == SIMULATED_RIDERS
    assert (
        rows["trips"]
        == counters["taps_charged"]
        == await _scalar(app, "SELECT count(*) FROM trips")
    )
    assert rows["recharges"] == SIMULATED_RIDERS + counters["recharges"]
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM recharges r JOIN recharge_points p ON p.id = r.recharge_point_id"
            " WHERE r.card_id IN (SELECT id FROM cards WHERE simulated) AND NOT p.simulated",
        )
        == 0
    )
    moved = await _scalar(
        app,
        "SELECT count(DISTINCT card_id) FROM trips WHERE card_id IN"
        " (SELECT id FROM cards WHERE simulated)",
    )
    assert moved > 1
    await ledger_ok(client)


async def test_removing_simulated_data_deletes_every_simulated_row_and_nothing_else(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
) -> None:
    real = await real_cards_state(app)
    started = await live.post(START, json={"rate": 20, "minutes": 1})
    assert started.status_code == 202, started.text
    # Refused while a run is going, for any operator, and nothing is deleted.
    await until_it_has_charged_taps(live)
    async with httpx.AsyncClient(base_url=live_server.url, headers=live_server.operator) as other:
        refused = await other.delete(DATA)
    assert refused.status_code == 409, refused.text
    assert f"run {started.json()['run_id']}" in refused.json()["detail"]
    await until_it_has_charged_taps(live, 21)
    assert (await live.post(STOP)).json()["state"] == "stopped"
    await fold_deltas(app.state.database)  # the run's taps reach the rollups

    before = await _simulated_rows(app)
    assert before["trips"] > 20
    assert before["ledger_entries"] >= before["trips"] + before["recharges"]
    assert before["accounts"] == 88  # 87 validators and a point of sale, at 20 events/s
    assert before["idempotency_records"] == before["recharges"]
    assert before["rollup_rows"] > 0
    removed = await live.delete(DATA)
    assert removed.status_code == 200, removed.text
    assert removed.json() == before
    assert await _simulated_rows(app) == dict.fromkeys(SIMULATED_ROWS, 0)

    # The real riders are all there, untouched, and every balance still equals its ledger.
    assert await real_cards_state(app) == real
    await ledger_ok(client)
    # Nothing simulated left to count, nothing to fail on: a second clean-up removes nothing.
    again = await live.delete(DATA)
    assert again.status_code == 200
    assert again.json() == dict.fromkeys(SIMULATED_ROWS, 0)
    # ...and the next start makes its riders anew.
    restarted = await live.post(START, json={"rate": 5, "minutes": 1})
    assert restarted.json()["new_riders"] == SIMULATED_RIDERS


async def test_a_run_stops_when_its_operator_is_deactivated(
    app: FastAPI,
    client: httpx.AsyncClient,
    live: httpx.AsyncClient,
    live_operator: Operator,
    riders: Riders,
) -> None:
    started = await live.post(START, json={"rate": 10, "minutes": 5})
    assert started.status_code == 202, started.text
    await until_it_has_charged_taps(live)  # (and still running)
    deactivated = await client.post(f"/api/v1/auth/accounts/{live_operator.login}/deactivate")
    assert deactivated.status_code == 200, deactivated.text

    # The operator's token is still valid for minutes; the run checks the account itself.
    final = await wait_for_status(live, lambda s: s["state"] == "stopped")
    assert (final["state"], final["end_reason"]) == ("stopped", "operator_deactivated")
    assert final["run_id"] == started.json()["run_id"]
    active_devices = await _scalar(app, "SELECT count(*) FROM accounts WHERE simulated AND active")
    assert active_devices == 0
    # ...and with that token no new run starts.
    refused = await live.post(START, json={"rate": 10, "minutes": 5})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "account_inactive"
    assert (await live.get(STATUS)).json()["run_id"] == started.json()["run_id"]


@pytest.mark.parametrize("role", [Role.operator, Role.admin])
async def test_a_token_of_an_account_that_does_not_exist_starts_nothing(
    app: FastAPI, live_server: LiveServer, riders: Riders, role: Role
) -> None:
    headers = bearer(live_server.app, role, account_id=987_654_321)
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as ghost:
        refused = await ghost.post(START, json={"rate": 10, "minutes": 1})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "account_inactive"
        assert (await ghost.get(STATUS)).json()["state"] == "stopped"
    assert await _scalar(app, "SELECT count(*) FROM cards WHERE simulated") == 0
