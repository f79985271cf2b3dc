"""The simulator against a real server: runs, counters that match the database, one run at
a time across app instances, stops, lease expiry, validation and refusals, and riders and
devices of its own, made once and reused."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    ServerUrls,
    bearer,
    client_for,
    ledger_ok,
    make_settings,
    start_app,
)
from tests.simulator.conftest import (
    OPERATOR_ACCOUNT_ID,
    SIMULATED_RIDERS,
    START,
    STATUS,
    STOP,
    LiveServer,
    Operator,
    Riders,
    drop_simulator_keys,
    real_account,
    real_cards_state,
    until_it_has_charged_taps,
    wait_for_status,
)
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role
from travel_recharge.simulator.service import Simulator


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.database.primary.connect() as connection:
        return (await connection.exec_driver_sql(sql)).scalar_one()


async def _device_accounts(app: FastAPI) -> list[tuple[str, bool]]:
    """The simulator's device accounts, oldest first (it reuses them from run to run)."""
    async with app.state.database.primary.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT login, active FROM accounts WHERE simulated ORDER BY id"
        )
        return [(row.login, row.active) for row in rows]


async def _bindings(app: FastAPI) -> dict[str, str | int]:
    """Each simulated device account's login and the validator or point of sale it acts as."""
    async with app.state.database.primary.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT login, coalesce(validator_id, recharge_point_id::text) AS device"
            " FROM accounts WHERE simulated"
        )
        return {row.login: row.device for row in rows}


async def _simulated_points(app: FastAPI) -> list[int]:
    async with app.state.database.primary.connect() as connection:
        rows = await connection.exec_driver_sql(
            "SELECT id FROM recharge_points WHERE simulated ORDER BY id"
        )
        return [row.id for row in rows]


def _validators(count: int) -> list[str]:
    return [f"sim-validator-{n}" for n in range(1, count + 1)]


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
    real_before = await real_cards_state(app)
    asked_to_start = time.monotonic()
    started = await live.post(START, json={"rate": 20, "minutes": 1})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["state"] == "running"
    assert run["started_by"] == "test-operator"
    assert (run["rate"], run["minutes"]) == (20, 1)
    # 20 taps/s at most, each validator at half its 600/min: 4 validators would do, but the
    # busiest of 40 riders taps ~70 times a minute, and meets a fresh validator at each tap
    # (1.25 times as many validators); 1 point of sale.
    assert (run["validators"], run["recharge_points"]) == (87, 1)
    # The first start makes the simulator's riders (and funds each once).
    assert (run["riders"], run["new_riders"]) == (SIMULATED_RIDERS, SIMULATED_RIDERS)
    assert await _device_accounts(app) == [
        *((login, True) for login in _validators(87)),
        ("sim-recharge-point-1", True),
    ]
    # Each bound to its own validator, the point of sale to the simulator's first kiosk.
    points = await _simulated_points(app)
    assert await _bindings(app) == {
        **{f"sim-validator-{n}": f"SIM-V{n}" for n in range(1, 88)},
        "sim-recharge-point-1": str(points[0]),
    }

    again = await live.post(START, json={"rate": 5, "minutes": 1})
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert f"already running (run {run['run_id']}" in again.json()["detail"]

    # Let the run work until it has done what the checks below need (by counts, however
    # long a loaded machine takes; the run itself lasts a minute).
    def enough(status: dict[str, Any]) -> bool:
        c = status["counters"]
        return bool(c["taps_charged"] > 40 and c["transfers"] > 0 and c["recharges"] >= 1)

    assert enough(await wait_for_status(live, enough)), "the run did too little"
    # Another app instance (another worker, as far as Redis can tell) sees the same run.
    here, there = (await live.get(STATUS)).json(), (await operator.get(STATUS)).json()
    assert here["run_id"] == there["run_id"] == run["run_id"]
    assert here["state"] == there["state"] == "running"
    assert here["counters"]["taps_sent"] > 0

    # ...and stops it: the runner, in the live server, hears it while the stop call waits
    # for it (STOP_WAIT_S): the answer says "stopped", not "is stopping".
    stopped = await operator.post(STOP)
    assert stopped.status_code == 200
    final = stopped.json()
    assert final["state"] == "stopped"
    assert final["end_reason"] == "stopped"
    assert final["detail"] == f"run {run['run_id']} stopped"

    counters = final["counters"]
    trips = await _scalar(
        app,
        "SELECT count(*) FROM trips WHERE validator_id LIKE 'SIM-%'"
        " AND card_id IN (SELECT id FROM cards WHERE simulated)",
    )
    assert trips == await _scalar(app, "SELECT count(*) FROM trips")
    assert counters["taps_charged"] == trips > 40
    transfers = await _scalar(app, "SELECT count(*) FROM trips WHERE is_transfer")
    assert counters["transfers"] == transfers > 0
    credit = await _scalar(app, "SELECT count(*) FROM trips WHERE credit_used")
    assert counters["credit_trips"] == credit
    # Each new rider's first recharge funded it at the start; the run's are the ones after.
    run_recharges = (
        " FROM recharges r WHERE r.card_id IN (SELECT id FROM cards WHERE simulated)"
        " AND r.id > (SELECT min(f.id) FROM recharges f WHERE f.card_id = r.card_id)"
    )
    recharges = await _scalar(app, "SELECT count(*)" + run_recharges)
    amount = await _scalar(app, "SELECT coalesce(sum(r.amount), 0)" + run_recharges)
    assert counters["recharges"] == recharges >= 1
    assert counters["recharged_amount"] == amount > 0
    assert amount % 1_000 == 0
    # Every simulated recharge at one of the simulator's points, and only those there.
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM recharges r JOIN recharge_points p ON p.id = r.recharge_point_id"
            " JOIN cards c ON c.id = r.card_id WHERE p.simulated <> c.simulated",
        )
        == 0
    )
    # The real riders' cards did not move.
    assert await real_cards_state(app) == real_before
    # Nothing refused by the run's own limits, nothing read twice by one validator.
    assert counters["errors"] == 0
    assert counters["taps_duplicate"] == 0
    assert counters["taps_sent"] == trips + counters["taps_refused_no_balance"]
    assert counters["recharges_sent"] == recharges
    # The pacer never sends faster than asked (20 events/s), whatever the machine's load
    # (which only slows it): a bound on counts over the time the test saw the run live,
    # with a second's worth of slack for the pacer's first burst.
    events = counters["taps_sent"] + counters["recharges_sent"]
    assert events <= 20 * (time.monotonic() - asked_to_start) + 20
    assert 0 < final["achieved_rate"] < 35
    assert 0 < final["latency_p50_ms"] <= final["latency_p95_ms"]

    # Each trip names the validator its account is bound to, and records that account; each
    # recharge, the account bound to its point of sale.
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM trips t LEFT JOIN accounts a ON a.id = t.account_id"
            " WHERE NOT a.simulated OR a.validator_id IS DISTINCT FROM t.validator_id",
        )
        == 0
    )
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM recharges r LEFT JOIN accounts a ON a.id = r.account_id"
            " WHERE r.id > (SELECT min(f.id) FROM recharges f WHERE f.card_id = r.card_id)"
            " AND (NOT a.simulated OR a.recharge_point_id IS DISTINCT FROM r.recharge_point_id)",
        )
        == 0
    )
    await ledger_ok(client)
    accounts = await _device_accounts(app)
    assert len(accounts) == 88
    assert not any(active for _, active in accounts)
    # Stopped, every instance answers exactly the same.
    assert (await live.get(STATUS)).json() == (await operator.get(STATUS)).json()


async def test_a_run_ends_by_itself_at_its_end(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders
) -> None:
    started = await live.post(START, json={"rate": 10, "minutes": 0.04})
    assert started.status_code == 202, started.text
    final = await wait_for_status(live, lambda s: s["state"] == "stopped")
    assert final["state"] == "stopped"
    assert final["end_reason"] == "finished"
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app))


async def test_starting_and_stopping_a_run_are_audited_with_who_did_it(
    live: httpx.AsyncClient,
    live_operator: Operator,
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
        "actor_id": live_operator.account_id,
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
    await until_it_has_charged_taps(live)
    simulator: Simulator = app.state.simulator
    # As if the runner's worker had died and its lease lapsed.
    await app.state.cache.redis.delete(simulator.control.lease_key)
    gone = (await live.get(STATUS)).json()
    assert gone["state"] == "stopped"
    assert gone["end_reason"] == "lease_expired"
    # The runner itself finds out at its next heartbeat, ends and records why.
    final = await wait_for_status(live, lambda s: s["end_reason"] == "lease_lost")
    assert final["end_reason"] == "lease_lost"
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app))


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
    # Nobody refreshes the 1 s lease: Redis expires it, however long that takes to be seen.
    lapsed = await wait_for_status(live, lambda s: s["state"] == "stopped")
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
    other_app, _ = await anext(instance)
    account_id, _ = await real_account(app, Role.admin)
    admin = client_for(other_app, bearer(other_app, Role.admin, account_id=account_id))
    started = await admin.post(START, json={"rate": 10, "minutes": 1})
    assert started.status_code == 202, started.text
    await until_it_has_charged_taps(live)
    await instance.aclose()  # the lifespan's shutdown
    final = (await live.get(STATUS)).json()
    assert (final["state"], final["end_reason"], final["started_by"]) == (
        "stopped",
        "shutdown",
        "test-admin",
    )
    assert final["counters"]["taps_charged"] == await _scalar(app, "SELECT count(*) FROM trips")
    assert not any(active for _, active in await _device_accounts(app))


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


async def test_without_redis_the_simulator_answers_503(
    app: FastAPI, test_servers: ServerUrls
) -> None:
    settings = make_settings(
        test_servers,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        self_url="http://127.0.0.1:9",
    )
    account_id, _ = await real_account(app, Role.admin)  # a start asks for an active one
    async for no_redis, _ in start_app(settings):
        admin = client_for(no_redis, bearer(no_redis, Role.admin, account_id=account_id))
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
    app: FastAPI, live: httpx.AsyncClient, clean: None, test_servers: ServerUrls
) -> None:
    # No network: nowhere to board (the riders would be the simulator's own).
    made = "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM cards)"
    before = await _scalar(app, made)
    try:
        response = await live.post(START, json={"rate": 5, "minutes": 1})
        assert response.status_code == 409
        assert response.json()["detail"] == (
            "nothing to simulate: the database has no active stations or bus routes; seed it "
            "first (travel-recharge seed)"
        )
        status = (await live.get(STATUS)).json()
        assert status["state"] == "stopped"
        assert status["end_reason"].startswith("error: nothing to simulate")
        assert await _scalar(app, made) == before
        assert await _scalar(app, "SELECT count(*) FROM recharge_points") == 0
    finally:
        await drop_simulator_keys(test_servers.redis_url, test_servers.namespace)


async def test_later_runs_reuse_the_riders_and_devices_of_the_first(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders
) -> None:
    first = await live.post(START, json={"rate": 40, "minutes": 1})
    assert first.status_code == 202, first.text
    assert (await live.post(STOP)).json()["state"] == "stopped"
    cards, points = (
        await _scalar(app, "SELECT count(*) FROM cards WHERE simulated"),
        await _scalar(app, "SELECT count(*) FROM recharge_points WHERE simulated"),
    )
    assert (cards, points) == (SIMULATED_RIDERS, 4)
    devices = await _device_accounts(app)
    assert (first.json()["validators"], first.json()["recharge_points"]) == (174, 2)
    assert [login for login, _ in devices] == [
        *_validators(174),
        "sim-recharge-point-1",
        "sim-recharge-point-2",
    ]
    bound = await _bindings(app)
    ids = await _simulated_points(app)
    # The points of sale accounts act as the simulator's kiosks in turn.
    assert (bound["sim-recharge-point-1"], bound["sim-recharge-point-2"]) == tuple(
        str(point) for point in ids[:2]
    )

    # A slower run needs fewer devices: it takes some of the same, and makes nothing new.
    second = await live.post(START, json={"rate": 5, "minutes": 1})
    assert second.status_code == 202, second.text
    assert (second.json()["riders"], second.json()["new_riders"]) == (SIMULATED_RIDERS, 0)
    assert (second.json()["validators"], second.json()["recharge_points"]) == (32, 1)
    assert [login for login, _ in await _device_accounts(app)] == [login for login, _ in devices]
    active = [login for login, on in await _device_accounts(app) if on]
    assert active == [*_validators(32), "sim-recharge-point-1"]
    # Each acts as the same device as before.
    assert await _bindings(app) == bound
    assert (await live.post(STOP)).json()["state"] == "stopped"
    assert await _scalar(app, "SELECT count(*) FROM cards WHERE simulated") == cards
    assert not any(on for _, on in await _device_accounts(app))


async def test_device_accounts_made_before_bindings_are_bound_when_a_run_takes_them(
    app: FastAPI, live: httpx.AsyncClient, riders: Riders
) -> None:
    # As migration 0007 left the simulator's accounts of an earlier version: inactive, and
    # bound to nothing (the database refuses to activate them so).
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO accounts (login, kind, role, secret_hash, active, simulated) VALUES"
            " ('sim-validator-1', 'client', 'validator', 'x', false, true),"
            " ('sim-recharge-point-1', 'client', 'recharge_point', 'x', false, true)"
        )
    started = await live.post(START, json={"rate": 10, "minutes": 1})
    assert started.status_code == 202, started.text
    bound = await _bindings(app)
    assert bound["sim-validator-1"] == "SIM-V1"
    assert bound["sim-recharge-point-1"] == str((await _simulated_points(app))[0])
    assert all(on for _, on in await _device_accounts(app))
    await until_it_has_charged_taps(live)
    final = (await live.post(STOP)).json()
    assert final["counters"]["errors"] == 0
    assert final["counters"]["taps_charged"] > 0
    assert (
        await _scalar(
            app,
            "SELECT count(*) FROM trips t JOIN accounts a ON a.id = t.account_id"
            " WHERE a.login = 'sim-validator-1' AND t.validator_id <> 'SIM-V1'",
        )
        == 0
    )
