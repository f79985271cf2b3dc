"""Device accounts are bound to their validator or recharge point, and every trip, recharge
and ledger entry records the account that caused it (security issue #18, finding 7).

The devices here are real accounts, signed in through the token endpoint like a device.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_ACCOUNT_ID, Network, bearer, client_for, count_rows, ledger_ok
from tests.money import balance, new_card, new_user, recharge, tap
from travel_recharge.security.roles import Role

TOKEN = "/api/v1/auth/token"
ACCOUNTS = "/api/v1/auth/accounts"


async def create_account(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(ACCOUNTS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def signed_in(app: FastAPI, account: dict[str, Any]) -> httpx.AsyncClient:
    """A client holding a token the account got for itself from the token endpoint."""
    if account["kind"] == "client":
        form = {"client_id": account["login"], "client_secret": account["secret"]}
        form["grant_type"] = "client_credentials"
    else:
        form = {"username": account["login"], "password": account["secret"]}
        form["grant_type"] = "password"
    async with client_for(app) as anonymous:
        response = await anonymous.post(TOKEN, data=form)
    assert response.status_code == 200, response.text
    return client_for(app, {"Authorization": f"Bearer {response.json()['access_token']}"})


@pytest.fixture
async def validator(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> AsyncIterator[tuple[dict[str, Any], httpx.AsyncClient]]:
    account = await create_account(
        client, login="gate-02000-01", role="validator", validator_id="TM-02000-01"
    )
    async with await signed_in(app, account) as device:
        yield account, device


@pytest.fixture
async def point_of_sale(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> AsyncIterator[tuple[dict[str, Any], httpx.AsyncClient]]:
    account = await create_account(
        client, login="taquilla-1", role="recharge_point", recharge_point_id=network.counter
    )
    async with await signed_in(app, account) as device:
        yield account, device


async def rows(app: FastAPI, query: str) -> list[tuple[Any, ...]]:
    async with app.state.database.primary.connect() as connection:
        return [tuple(row) for row in (await connection.exec_driver_sql(query)).all()]


# --- creating bound accounts -----------------------------------------------------------------


@pytest.mark.usefixtures("network")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "validator"}, "validator_id"),
        ({"role": "recharge_point"}, "recharge_point_id"),
        ({"role": "operator", "validator_id": "V-1"}, "validator_id"),
        ({"role": "analyst", "recharge_point_id": 1}, "recharge_point_id"),
        ({"role": "validator", "validator_id": "V-1", "recharge_point_id": 1}, "recharge_point_id"),
        ({"role": "recharge_point", "recharge_point_id": 1, "validator_id": "V-1"}, "validator_id"),
        ({"role": "validator", "validator_id": "no spaces"}, "validator_id"),
        ({"role": "validator", "validator_id": "V" * 65}, "validator_id"),
        ({"role": "recharge_point", "recharge_point_id": 0}, "recharge_point_id"),
        ({"role": "recharge_point", "recharge_point_id": 2**40}, "recharge_point_id"),
    ],
)
async def test_a_device_account_needs_its_binding_and_no_other_account_has_one(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any], field: str
) -> None:
    response = await client.post(ACCOUNTS, json={"login": "some.device", **body})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"], response.text
    assert await count_rows(app, "accounts") == 1  # `clean`'s test account only


async def test_a_recharge_point_account_names_an_existing_point(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    response = await client.post(
        ACCOUNTS, json={"login": "ghost.kiosk", "role": "recharge_point", "recharge_point_id": 999}
    )
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "recharge point 999 does not exist"
    assert await count_rows(app, "accounts") == 1


async def test_the_binding_is_shown_with_the_account_and_to_the_device(
    app: FastAPI,
    client: httpx.AsyncClient,
    validator: tuple[dict[str, Any], httpx.AsyncClient],
    point_of_sale: tuple[dict[str, Any], httpx.AsyncClient],
    network: Network,
) -> None:
    (gate, gate_client), (shop, shop_client) = validator, point_of_sale
    assert (gate["validator_id"], gate["recharge_point_id"]) == ("TM-02000-01", None)
    assert (shop["validator_id"], shop["recharge_point_id"]) == (None, network.counter)
    listed = {a["login"]: a for a in (await client.get(ACCOUNTS)).json()["accounts"]}
    assert listed["gate-02000-01"]["validator_id"] == "TM-02000-01"
    assert listed["taquilla-1"]["recharge_point_id"] == network.counter
    me = (await gate_client.get("/api/v1/auth/me")).json()
    assert (me["validator_id"], me["recharge_point_id"]) == ("TM-02000-01", None)
    me = (await shop_client.get("/api/v1/auth/me")).json()
    assert (me["validator_id"], me["recharge_point_id"]) == (None, network.counter)


# --- validators ------------------------------------------------------------------------------


async def test_a_validator_tapping_as_another_validator_is_403_and_writes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    validator: tuple[dict[str, Any], httpx.AsyncClient],
    network: Network,
) -> None:
    _, gate = validator
    card_id = await new_card(client)
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    response = await tap(gate, card_id, station_id=network.trunk_station, validator="TM-02000-02")
    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": "wrong_device",
        "detail": "validator_id: this account acts as validator 'TM-02000-01' only, "
        "not 'TM-02000-02'",
    }
    assert await count_rows(app, "trips") == 0
    assert await balance(client, card_id) == 10_000


async def test_a_validators_taps_record_its_account_on_the_trip_and_the_ledger(
    app: FastAPI,
    client: httpx.AsyncClient,
    validator: tuple[dict[str, Any], httpx.AsyncClient],
    network: Network,
) -> None:
    account, gate = validator
    card_id = await new_card(client)
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    response = await tap(gate, card_id, station_id=network.trunk_station, validator="TM-02000-01")
    assert response.status_code == 201, response.text
    trip_id = response.json()["trip_id"]
    assert await rows(app, "SELECT id, validator_id, account_id FROM trips") == [
        (trip_id, "TM-02000-01", account["account_id"])
    ]
    fares = await rows(app, "SELECT trip_id, account_id FROM ledger_entries WHERE kind = 'fare'")
    assert fares == [(trip_id, account["account_id"])]
    # Trip ends name no validator (a rider may leave through any gate): still the validator's.
    end = await gate.post(
        "/api/v1/trips/end", json={"trip_id": trip_id, "station_id": network.other_trunk_station}
    )
    assert end.status_code == 200, end.text
    await ledger_ok(client)


async def test_an_admin_may_still_tap_as_any_validator_and_is_recorded(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client)
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    for validator_id in ("TM-02000-07", "TM-01014-03"):
        response = await tap(
            client, card_id, station_id=network.trunk_station, validator=validator_id
        )
        assert response.status_code == 201, response.text
    recorded = await rows(app, "SELECT DISTINCT account_id FROM trips")
    assert recorded == [(TEST_ACCOUNT_ID,)]


async def test_a_device_token_without_a_binding_may_not_tap_or_recharge(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    """Tokens issued before bindings existed carry none: they are refused, not trusted."""
    card_id = await new_card(client)
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    async with client_for(app, bearer(app, Role.validator)) as old_gate:
        response = await tap(old_gate, card_id, station_id=network.trunk_station)
    assert response.status_code == 403
    assert response.json()["error"] == "device_unbound"
    async with client_for(app, bearer(app, Role.recharge_point)) as old_kiosk:
        response = await recharge(old_kiosk, card_id, 5_000, point=network.counter)
    assert response.status_code == 403
    assert response.json()["error"] == "device_unbound"
    assert await count_rows(app, "trips") == 0
    assert await balance(client, card_id) == 10_000


# --- recharge points -------------------------------------------------------------------------


async def test_a_recharge_point_recharging_at_another_point_is_403_and_writes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    point_of_sale: tuple[dict[str, Any], httpx.AsyncClient],
    network: Network,
) -> None:
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO recharge_points (id, name, locality_code, channel)"
            " VALUES (3, 'Taquilla Calle 72', '02', 'counter')"
        )
    _, shop = point_of_sale
    card_id = await new_card(client)
    response = await recharge(shop, card_id, 10_000, point=3)
    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": "wrong_device",
        "detail": "recharge_point_id: this account acts as recharge point 1 only, not 3",
    }
    assert await count_rows(app, "recharges") == 0
    assert await count_rows(app, "idempotency_records") == 0
    assert await balance(client, card_id) == 0


async def test_a_recharge_and_its_credit_repayment_record_the_point_of_sales_account(
    app: FastAPI,
    client: httpx.AsyncClient,
    point_of_sale: tuple[dict[str, Any], httpx.AsyncClient],
    network: Network,
) -> None:
    account, shop = point_of_sale
    card_id = await new_card(client, "personalized")
    # A credit trip first, so the recharge posts a credit repayment beside the recharge.
    on_credit = await tap(client, card_id, station_id=network.trunk_station)
    assert (on_credit.status_code, on_credit.json()["credit_used"]) == (201, True)
    response = await recharge(shop, card_id, 10_000, point=network.counter)
    assert response.status_code == 201, response.text
    assert response.json()["credit_repaid"] > 0
    recharge_id = response.json()["recharge_id"]
    assert await rows(app, "SELECT id, account_id FROM recharges") == [
        (recharge_id, account["account_id"])
    ]
    entries = await rows(
        app, "SELECT kind, account_id FROM ledger_entries WHERE recharge_id IS NOT NULL ORDER BY id"
    )
    assert entries == [
        ("credit_repayment", account["account_id"]),
        ("recharge", account["account_id"]),
    ]
    # The credit trip itself was the admin's tap.
    fare = await rows(app, "SELECT account_id FROM ledger_entries WHERE kind = 'fare'")
    assert fare == [(TEST_ACCOUNT_ID,)]
    await ledger_ok(client)


async def test_a_card_replacement_records_the_operator_on_both_transfers(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    operator = await create_account(client, login="op.marta", role="operator")
    user_id = await new_user(client)
    card = {"card_type": "personalized", "user_id": user_id}
    card_id = (await client.post("/api/v1/cards", json=card)).json()["card_id"]
    assert (await recharge(client, card_id, 10_000)).status_code == 201
    async with await signed_in(app, operator) as marta:
        replaced = await marta.post(
            f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert replaced.status_code == 201, replaced.text
    transfers = await rows(
        app,
        "SELECT amount, account_id FROM ledger_entries WHERE kind = 'balance_transfer' ORDER BY id",
    )
    assert transfers == [(-10_000, operator["account_id"]), (10_000, operator["account_id"])]
    await ledger_ok(client)
