"""The hot writes' direct routes (kit.direct): taps and recharges answered without FastAPI's
routing, exactly as their routes answer them, counted once in the rate limits, and every
request they decline answered by the route itself.

Each comparison runs the same requests through the session's app (direct routes on) and
through an app on the same database with TR_DIRECT_ROUTES=false (every request routed).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    Network,
    ServerUrls,
    bearer,
    client_for,
    drop_keys,
    ledger_ok,
    make_settings,
)
from tests.conftest import start_app as start
from tests.money import new_card, recharge, tap
from tests.observability.samples import value
from travel_recharge.kit.config import Settings
from travel_recharge.security.roles import Role

TAP_PATH = "/api/v1/trips/start"
RECHARGE_PATH = "/api/v1/cards/recharge"
# What differs between two runs of one scenario: the rows' own ids and times.
RUN_SPECIFIC = {"trip_id", "card_id", "tap_id", "validator_id", "event_time", "recharge_id"}
RUN_SPECIFIC |= {"recharge_timestamp", "balance_after_timestamp"}


def direct_answers() -> float:
    return value("http_direct_total")


def answer_of(response: httpx.Response, *run_values: int) -> tuple[int, Any, dict[str, str]]:
    """Status, body and headers, without the request id; the run's own ids and times are
    blanked (`run_values` too, where an error's detail names them)."""
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    if response.headers.get("content-type") != "application/json":
        return response.status_code, response.text, headers
    headers.pop("content-length")  # the ids' digits differ between runs
    body = response.json()
    body = {k: ("<run>" if k in RUN_SPECIFIC else v) for k, v in body.items()}
    if "detail" in body:
        for run_value in sorted(run_values, reverse=True):
            body["detail"] = re.sub(rf"\b{run_value}\b", "<run>", body["detail"])
    return response.status_code, body, headers


@pytest.fixture
async def routed(test_servers: ServerUrls, network: Network) -> AsyncIterator[FastAPI]:
    """An app on the same database and Redis that routes every request (no direct routes)."""
    async for app, _ in start(make_settings(test_servers, direct_routes=False)):
        yield app


async def business_day(client: httpx.AsyncClient, network: Network) -> list[Any]:
    """Recharges, a retried recharge, taps, a double tap, a retry, a decline and an unknown
    card, on a fresh card: every answer, with the run's own values blanked."""
    card = await new_card(client)
    key, tap_id = uuid.uuid4().hex, str(uuid.uuid4())
    answers = [
        await recharge(client, card, 9000, key=key),
        await recharge(client, card, 9000, key=key),  # a retry: replayed, credits nothing
        await recharge(client, card, 2000, key=key),  # the same key, another body: 409
        await tap(client, card, station_id=network.trunk_station, tap_id=tap_id),
        await tap(client, card, station_id=network.trunk_station, tap_id=tap_id),  # retry
        await tap(client, card, station_id=network.other_trunk_station, validator="V-2"),
        await tap(client, card, station_id=network.trunk_station, validator="V-3"),  # 402
        await tap(client, 2**40, station_id=network.trunk_station),  # no such card
        await tap(client, card, route_code="NO-SUCH-ROUTE"),
        await recharge(client, 2**40, 5000),
    ]
    return [answer_of(answer, card, 2**40) for answer in answers]


async def test_taps_and_recharges_answer_as_their_routes(
    app: FastAPI, client: httpx.AsyncClient, routed: FastAPI, network: Network
) -> None:
    before = direct_answers()
    direct = await business_day(client, network)
    taken = direct_answers() - before
    async with client_for(routed, bearer(routed, Role.admin)) as routed_client:
        by_route = await business_day(routed_client, network)
    assert direct_answers() - before == taken == len(direct)  # the routed app took none
    assert direct == by_route
    statuses = [status for status, _, _ in direct]
    assert statuses == [201, 201, 409, 201, 200, 201, 402, 404, 404, 404]
    assert direct[1][2]["idempotent-replayed"] == "true"
    assert direct[4][1]["duplicate"] is True
    assert direct[5][1]["balance_after"] == 9000 - 2 * 3550
    assert direct[6][1]["detail"] == (
        "card <run>: insufficient balance: 1900 < 3550 and basic cards have no credit"
    )
    await ledger_ok(client)


def _tap_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "card_id": 1,
        "station_id": 1,
        "validator_id": "V-1",
        "tap_id": str(uuid.uuid4()),
    }
    return {k: v for k, v in (body | changes).items() if v is not None}


def _as(role: Role | None, **claims: Any) -> Callable[[FastAPI], dict[str, str]]:
    return lambda app: {} if role is None else bearer(app, role, **claims)


# Requests the direct routes leave to their routes: (path, headers, content).
REFUSED: dict[str, tuple[str, Callable[[FastAPI], dict[str, str]], dict[str, str], bytes]] = {
    "no token": (TAP_PATH, _as(None), {}, json.dumps(_tap_body()).encode()),
    "a rider": (TAP_PATH, _as(Role.rider, user_id=1), {}, json.dumps(_tap_body()).encode()),
    "an analyst": (TAP_PATH, _as(Role.analyst), {}, json.dumps(_tap_body()).encode()),
    "a field missing": (TAP_PATH, _as(Role.admin), {}, json.dumps(_tap_body(tap_id=None)).encode()),
    "a string for an id": (
        TAP_PATH,
        _as(Role.admin),
        {},
        json.dumps(_tap_body(card_id="one")).encode(),
    ),
    "not JSON": (TAP_PATH, _as(Role.admin), {}, b'{"card_id": 1,'),
    "NaN": (TAP_PATH, _as(Role.admin), {}, b'{"card_id": NaN}'),
    "a NUL": (TAP_PATH, _as(Role.admin), {}, json.dumps(_tap_body(validator_id="V\x00")).encode()),
    "text/plain": (
        TAP_PATH,
        _as(Role.admin),
        {"content-type": "text/plain"},
        json.dumps(_tap_body()).encode(),
    ),
    "no Idempotency-Key": (
        RECHARGE_PATH,
        _as(Role.admin),
        {},
        b'{"card_id": 1, "amount": 5000, "recharge_point_id": 1}',
    ),
    "a bad Idempotency-Key": (
        RECHARGE_PATH,
        _as(Role.admin),
        {"idempotency-key": "two words"},
        b'{"card_id": 1, "amount": 5000, "recharge_point_id": 1}',
    ),
    "a validator recharging": (
        RECHARGE_PATH,
        _as(Role.validator, validator_id="V-1"),
        {"idempotency-key": "k1"},
        b'{"card_id": 1, "amount": 5000, "recharge_point_id": 1}',
    ),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_request_the_direct_route_declines_is_answered_by_the_route(
    app: FastAPI, routed: FastAPI, case: str
) -> None:
    path, caller, headers, content = REFUSED[case]
    answers = []
    before = direct_answers()
    for each in (app, routed):
        sent = {"content-type": "application/json"} | caller(each) | headers
        async with client_for(each) as client:
            answers.append(answer_of(await client.post(path, content=content, headers=sent)))
    assert direct_answers() == before  # declined: the direct route answered nothing
    assert answers[0] == answers[1]
    assert answers[0][0] in (401, 403, 422)


async def test_each_request_is_counted_once_in_the_rate_limit(
    test_servers: ServerUrls, network: Network
) -> None:
    namespace = f"trtestdirect{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        test_servers,
        cache_namespace=namespace,
        rate_limits={"taps": {"principal": "3/minute"}},
    )
    try:
        await _count_taps(settings, network)
    finally:
        for match in (f"{namespace}:*", f"rl:{namespace}:*"):
            await drop_keys(test_servers.redis_url, match)


async def _count_taps(settings: Settings, network: Network) -> None:
    async for app, admin in start(settings):
        # A card per tap: a second tap of one card at one validator is a double tap.
        cards = [await new_card(admin) for _ in range(3)]
        for card in cards:
            assert (await recharge(admin, card, 20000)).status_code == 201
        async with client_for(app, bearer(app, Role.validator, validator_id="V-1")) as device:
            declined = await device.post(TAP_PATH, json=_tap_body(card_id=cards[0], tap_id="x"))
            taps = [
                await tap(device, card, station_id=network.trunk_station, validator="V-1")
                for card in cards
            ]
        # The route counted the request the direct route declined; the direct route counted
        # its own two, and refused the fourth in the route's words.
        assert declined.status_code == 422
        assert [t.status_code for t in taps] == [201, 201, 429]
        assert taps[2].json()["error"] == "rate_limited"
        assert int(taps[2].headers["retry-after"]) >= 1


async def test_a_direct_answer_carries_the_edge_and_the_routes_metrics(
    client: httpx.AsyncClient, network: Network
) -> None:
    labels = {"route": TAP_PATH, "method": "POST", "status": "201"}
    before = value("http_requests_total", **labels)
    card = await new_card(client)
    assert (await recharge(client, card, 5000)).status_code == 201
    response = await tap(client, card, station_id=network.trunk_station)
    assert response.status_code == 201
    assert value("http_requests_total", **labels) == before + 1
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_body_over_the_limit_is_refused_by_the_edge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    limit = app.state.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        # Streamed without a Content-Length: the edge counts the bytes as they arrive.
        yield b'{"card_id": 1, "validator_id": "'
        for _ in range(limit // 1024 + 1):
            yield b"v" * 1024
        yield b'"}'

    before = direct_answers()
    response = await client.post(
        TAP_PATH, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert direct_answers() == before
