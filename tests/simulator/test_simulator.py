"""The simulator against a real server: runs, counters that match the database, one run at
a time across app instances, stops, lease expiry, validation and refusals."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    Network,
    ServerUrls,
    bearer,
    client_for,
    ledger_ok,
    make_settings,
    start_app,
)
from tests.simulator.conftest import (
    FUNDED_BALANCE,
    OPERATOR_ACCOUNT_ID,
    LiveServer,
    Riders,
    drop_simulator_keys,
)
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role
from travel_recharge.simulator import repository
from travel_recharge.simulator.service import Simulator

STATUS, START, STOP = "/api/v1/simulator", "/api/v1/simulator/start", "/api/v1/simulator/stop"


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.database.primary.connect() as connection:
        return (await connection.exec_driver_sql(sql)).scalar_one()


async def _device_accounts(app: FastAPI, run_id: str) -> list[tuple[str, bool]]:
    async with app.state.database.primary.connect() as connection:
        rows = await connection.exec_driver_sql(
            f"SELECT login, active FROM accounts WHERE login LIKE 'sim-{run_id}-%' ORDER BY login"  # noqa: S608
        )
        return [(row.login, row.active) for row in rows]


async def _wait_for(
    client: httpx.AsyncClient, done: Any, timeout_s: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = (await client.get(STATUS)).json()
        if done(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


@pytest.fixture
async def operator(app: FastAPI) -> httpx.AsyncClient:
    """The session app (another instance than the live server, sharing Redis), as an operator."""
    return client_for(app, bearer(app, Role.operator, account_id=OPERATOR_ACCOUNT_ID + 1))


async def test_a_run_taps_and_recharges_through_the_api_and_counts_what_it_did(
    app: FastAPI,
    client: httpx.AsyncClient,
    live: httpx.AsyncClient,
    operator: httpx.AsyncClient,
    riders: Riders,
) -> None:
    started = await live.post(START, json={"rate": 20, "minutes": 1})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["state"] == "running"
    assert run["started_by"] == "test-operator"
    assert (run["rate"], run["minutes"]) == (20, 1)
    # 20 taps/s at most, each validator at half its 600/min: 4 validators would do, but the
    # run makes 32, so that no rider meets one twice in the double-tap window; 1 point of sale.
    assert (run["validators"], run["recharge_points"]) == (32, 1)
    logins = [login for login, _ in await _device_accounts(app, run["run_id"])]
    assert len(logins) == 33
    assert f"sim-{run['run_id']}-validator-1" in logins
    assert f"sim-{run['run_id']}-recharge-point-1" in logins

    again = await live.post(START, json={"rate": 5, "minutes": 1})
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert f"already running (run {run['run_id']}" in again.json()["detail"]

    await asyncio.sleep(4.5)
    # Another app instance (another worker, as far as Redis can tell) sees the same run.
    here, there = (await live.get(STATUS)).json(), (await operator.get(STATUS)).json()
    assert here["run_id"] == there["run_id"] == run["run_id"]
    assert here["state"] == there["state"] == "running"
    assert here["counters"]["taps_sent"] > 0

    # ...and stops it: the runner, in the live server, hears it within a second.
    asked = time.monotonic()
    stopped = await operator.post(STOP)
    assert time.monotonic() - asked < 2.5
    assert stopped.status_code == 200
    final = stopped.json()
    assert final["state"] == "stopped"
    assert final["end_reason"] == "stopped"
    assert final["detail"] == f"run {run['run_id']} stopped"

    counters = final["counters"]
    trips = await _scalar(app, "SELECT count(*) FROM trips WHERE validator_id LIKE 'SIM-%'")
    assert trips == await _scalar(app, "SELECT count(*) FROM trips")
    assert counters["taps_charged"] == trips > 40
    transfers = await _scalar(app, "SELECT count(*) FROM trips WHERE is_transfer")
    assert counters["transfers"] == transfers > 0
    credit = await _scalar(app, "SELECT count(*) FROM trips WHERE credit_used")
    assert counters["credit_trips"] == credit
    # The fixture's recharges are at point 1 too: the run's are the ones after them.
    recharges = await _scalar(app, "SELECT count(*) FROM recharges") - len(riders.funded)
    amount = await _scalar(app, "SELECT sum(amount) FROM recharges")
    amount -= FUNDED_BALANCE * len(riders.funded)
    assert counters["recharges"] == recharges >= 1
    assert counters["recharged_amount"] == amount > 0
    assert amount % 1_000 == 0
    # Nothing refused by the run's own limits, nothing read twice by one validator.
    assert counters["errors"] == 0
    assert counters["taps_duplicate"] == 0
    assert counters["taps_sent"] == trips + counters["taps_refused_no_balance"]
    assert counters["recharges_sent"] == recharges
    assert 10 < final["achieved_rate"] < 35
    assert 0 < final["latency_p50_ms"] <= final["latency_p95_ms"]

    # Each trip names the validator its account is bound to, and records that account.
    unbound = await _scalar(
        app,
        "SELECT count(*) FROM trips t LEFT JOIN accounts a ON a.id = t.account_id"
        " WHERE a.validator_id IS DISTINCT FROM t.validator_id",
    )
    assert unbound == 0
    await ledger_ok(client)
    accounts = await _device_accounts(app, run["run_id"])
    assert len(accounts) == 33
    assert not any(active for _, active in accounts)
    # Stopped, every instance answers exactly the same.
    assert (await live.get(STATUS)).json() == (await operator.get(STATUS)).json()


async def test_a_run_ends_by_itself_at_its_end(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders
) -> None:
    started = await live.post(START, json={"rate": 10, "minutes": 0.04})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    final = await _wait_for(live, lambda s: s["state"] == "stopped", timeout_s=10)
    assert final["state"] == "stopped"
    assert final["end_reason"] == "finished"
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app, run_id))


async def test_starting_and_stopping_a_run_are_audited_with_who_did_it(
    live: httpx.AsyncClient,
    operator: httpx.AsyncClient,
    riders: Riders,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="travel_recharge.audit")
    started = await live.post(START, json={"rate": 5, "minutes": 1})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    stopped = await operator.post(STOP)
    assert stopped.status_code == 200
    audited = {
        record.getMessage(): getattr(record, "fields", None)
        for record in caplog.records
        if record.name == "travel_recharge.audit"
    }
    assert audited["audit.simulator.started"] == {
        "actor_id": OPERATOR_ACCOUNT_ID,
        "actor_login": "test-operator",
        "actor_role": "operator",
        "target": f"simulator:{run_id}",
        "rate": 5,
        "minutes": 1,
    }
    assert audited["audit.simulator.stopped"] == {
        "actor_id": OPERATOR_ACCOUNT_ID + 1,
        "actor_login": "test-operator",
        "actor_role": "operator",
        "target": f"simulator:{run_id}",
        "running": True,
    }


async def test_a_runner_that_loses_its_lease_stops_and_shows_stopped_at_once(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders, test_servers: ServerUrls
) -> None:
    started = await live.post(START, json={"rate": 10, "minutes": 1})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    await asyncio.sleep(1.5)
    simulator: Simulator = app.state.simulator
    # As if the runner's worker had died and its lease lapsed.
    await app.state.cache.redis.delete(simulator.control.lease_key)
    gone = (await live.get(STATUS)).json()
    assert gone["state"] == "stopped"
    assert gone["end_reason"] == "lease_expired"
    # The runner itself finds out at its next heartbeat, ends and records why.
    final = await _wait_for(live, lambda s: s["end_reason"] == "lease_lost", timeout_s=5)
    assert final["end_reason"] == "lease_lost"
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app, run_id))


async def test_a_dead_runners_lease_lapses_and_a_new_run_can_start(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders
) -> None:
    simulator: Simulator = app.state.simulator
    # A runner that took the lease and died at once: nobody refreshes it.
    fields = {"state": "running", "rate": "5.0", "minutes": "1.0", "started_by": "ghost"}
    assert await simulator.control.acquire("deadbeef0000", 1_000, fields)
    assert (await live.get(STATUS)).json()["state"] == "running"
    refused = await live.post(START, json={"rate": 5, "minutes": 1})
    assert refused.status_code == 409
    assert "started by ghost" in refused.json()["detail"]
    await asyncio.sleep(1.3)
    lapsed = (await live.get(STATUS)).json()
    assert (lapsed["state"], lapsed["run_id"], lapsed["end_reason"]) == (
        "stopped",
        "deadbeef0000",
        "lease_expired",
    )
    started = await live.post(START, json={"rate": 5, "minutes": 1})
    assert started.status_code == 202, started.text
    assert started.json()["run_id"] != "deadbeef0000"


async def test_the_shutdown_of_the_worker_running_it_ends_the_run_cleanly(
    app: FastAPI,
    live_server: LiveServer,
    live: httpx.AsyncClient,
    riders: Riders,
    test_servers: ServerUrls,
) -> None:
    # A second app (its own lifespan) whose runner drives the live server, then shuts down.
    settings = make_settings(test_servers, self_url=live_server.url)
    instance = start_app(settings)
    _, admin = await anext(instance)
    started = await admin.post(START, json={"rate": 10, "minutes": 1})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    await asyncio.sleep(1.5)
    assert (await live.get(STATUS)).json()["state"] == "running"
    await instance.aclose()  # the lifespan's shutdown
    final = (await live.get(STATUS)).json()
    assert (final["state"], final["end_reason"], final["started_by"]) == (
        "stopped",
        "shutdown",
        "test-admin",
    )
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app, run_id))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": 0, "minutes": 1}, "rate"),
        ({"rate": 0.09, "minutes": 1}, "rate"),
        ({"rate": 500.5, "minutes": 1}, "rate"),
        ({"rate": "fast", "minutes": 1}, "rate"),
        ({"minutes": 1}, "rate"),
        ({"rate": 10, "minutes": 0}, "minutes"),
        ({"rate": 10, "minutes": -1}, "minutes"),
        ({"rate": 10, "minutes": 240.5}, "minutes"),
        ({"rate": 10}, "minutes"),
        ({"rate": 10, "minutes": 1, "seed": 4}, "seed"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    app: FastAPI, live: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    accounts = await _scalar(app, "SELECT count(*) FROM accounts")
    response = await live.post(START, json=body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "validation_error"
    assert [problem["field"] for problem in answer["fields"]] == [field]
    assert answer["detail"].startswith(f"{field}: ")
    assert (await live.get(STATUS)).json()["state"] == "stopped"
    assert await _scalar(app, "SELECT count(*) FROM accounts") == accounts
    simulator: Simulator = app.state.simulator
    assert await app.state.cache.redis.exists(simulator.control.lease_key) == 0


async def test_the_bounds_themselves_are_accepted(live: httpx.AsyncClient, riders: Riders) -> None:
    for body in ({"rate": 0.1, "minutes": 240}, {"rate": 500, "minutes": 0.01}):
        started = await live.post(START, json=body)
        assert started.status_code == 202, started.text
        stopped = await live.post(STOP)
        assert stopped.json()["state"] == "stopped"


async def test_stopping_a_stopped_simulator_is_fine_and_says_so(
    live: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    response = await operator.post(STOP)
    assert response.status_code == 200
    assert response.json()["state"] == "stopped"
    assert response.json()["detail"] == "no simulation was running"


async def test_a_service_that_does_not_know_its_url_cannot_start_one(
    app: FastAPI, operator: httpx.AsyncClient
) -> None:
    assert app.state.settings.self_url is None  # the session app
    response = await operator.post(START, json={"rate": 5, "minutes": 1})
    assert response.status_code == 503
    assert "TR_SELF_URL" in response.json()["detail"]
    simulator: Simulator = app.state.simulator
    assert await app.state.cache.redis.exists(simulator.control.lease_key) == 0


async def test_without_redis_the_simulator_answers_503(test_servers: ServerUrls) -> None:
    settings = make_settings(
        test_servers,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        self_url="http://127.0.0.1:9",
    )
    async for _, admin in start_app(settings):
        for method, path, body in (
            ("GET", STATUS, None),
            ("POST", START, {"rate": 5, "minutes": 1}),
            ("POST", STOP, None),
        ):
            response = await admin.request(method, path, json=body)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"] == "cache_unavailable"
            assert "Redis" in response.json()["detail"]


async def test_only_operators_and_admins_may_use_it(app: FastAPI) -> None:
    for role, expected in ((Role.analyst, 403), (Role.validator, 403), (Role.admin, 200)):
        async with client_for(app, bearer(app, role, account_id=9_100)) as caller:
            assert (await caller.get(STATUS)).status_code == expected, role
    async with client_for(app) as anonymous:
        assert (await anonymous.post(START, json={"rate": 1, "minutes": 1})).status_code == 401


async def test_nothing_to_ride_is_refused_and_leaves_nothing_running(
    app: FastAPI, live: httpx.AsyncClient, network: Network, test_servers: ServerUrls
) -> None:
    accounts = await _scalar(app, "SELECT count(*) FROM accounts")
    try:
        response = await live.post(START, json={"rate": 5, "minutes": 1})
        assert response.status_code == 409
        assert response.json()["detail"] == (
            "nothing to simulate: the database has no active cards; seed it first "
            "(travel-recharge seed)"
        )
        status = (await live.get(STATUS)).json()
        assert status["state"] == "stopped"
        assert status["end_reason"].startswith("error: nothing to simulate")
        assert await _scalar(app, "SELECT count(*) FROM accounts") == accounts
    finally:
        await drop_simulator_keys(test_servers.redis_url, test_servers.namespace)


async def test_the_card_sample_is_random_active_cards_whichever_way_it_is_read(
    app: FastAPI, client: httpx.AsyncClient, riders: Riders
) -> None:
    blocked = riders.funded[0]
    response = await client.post(f"/api/v1/cards/{blocked}/block", json={"reason": "lost"})
    assert response.status_code == 200, response.text
    async with app.state.database.primary.connect() as connection:
        await connection.exec_driver_sql("ANALYZE cards")  # the estimate the choice reads
    active = {*riders.funded[1:], *riders.empty}
    async with app.state.database.read_sessions() as session:
        for page_sample_above in (repository.SAMPLE_PAGES_ABOVE, 0):  # sort, then pages
            every = await repository.sample_cards(
                session, 1_000, page_sample_above=page_sample_above
            )
            assert {card.card_id for card in every} == active
            assert {card.balance for card in every} == {FUNDED_BALANCE, 0}
            few = await repository.sample_cards(session, 10, page_sample_above=page_sample_above)
            assert len(few) == 10
            assert {card.card_id for card in few} <= active
