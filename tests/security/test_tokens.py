"""The token endpoint and the tokens it issues: grants, refusals, and forged tokens."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_ACCOUNT_LOGIN, Network, client_for, count_rows
from tests.money import new_user
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner

TOKEN = "/api/v1/auth/token"
pytestmark = pytest.mark.usefixtures("clean")


async def create_account(
    client: httpx.AsyncClient, login: str, role: str, **extra: object
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/auth/accounts", json={"login": login, "role": role, **extra}
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def me(app: FastAPI, token: str) -> httpx.Response:
    async with client_for(app, {"Authorization": f"Bearer {token}"}) as caller:
        return await caller.get("/api/v1/auth/me")


async def test_a_person_gets_a_token_with_the_password_grant(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await create_account(client, "ana.analyst", "analyst")
    assert account["kind"] == "person"
    async with client_for(app) as anonymous:
        response = await anonymous.post(
            TOKEN,
            data={
                "grant_type": "password",
                "username": "ana.analyst",
                "password": account["secret"],
            },
        )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == "analyst"
    assert body["expires_in"] == app.state.settings.auth_token_ttl_s
    who = await me(app, body["access_token"])
    assert who.status_code == 200
    assert who.json() == {
        "account_id": account["account_id"],
        "login": "ana.analyst",
        "role": "analyst",
        "user_id": None,
        "validator_id": None,
        "recharge_point_id": None,
        "card_ids": [],
    }
    async with client_for(app, {"Authorization": f"Bearer {body['access_token']}"}) as analyst:
        assert (await analyst.get("/api/v1/trips/total")).status_code == 200
        assert (await analyst.get("/api/v1/cache/stats")).status_code == 403


async def test_a_device_gets_a_token_with_client_credentials_in_the_body_or_basic(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await create_account(client, "validator-0042", "validator", validator_id="V-0042")
    assert account["kind"] == "client"
    assert account["validator_id"] == "V-0042"
    secret = str(account["secret"])
    async with client_for(app) as anonymous:
        in_body = await anonymous.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": "validator-0042",
                "client_secret": secret,
            },
        )
        basic = base64.b64encode(f"validator-0042:{secret}".encode()).decode()
        in_header = await anonymous.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
    for response in (in_body, in_header):
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "validator"
        who = (await me(app, response.json()["access_token"])).json()
        assert (who["login"], who["validator_id"]) == ("validator-0042", "V-0042")


async def test_a_rider_token_reads_their_own_cards_and_no_one_elses(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    owner, other = await new_user(client), await new_user(client)
    cards = []
    for user in (owner, other):
        response = await client.post(
            "/api/v1/cards", json={"card_type": "personalized", "user_id": user}
        )
        cards.append(response.json()["card_id"])
    account = await create_account(client, "rider.ana", "rider", user_id=owner)
    async with client_for(app) as anonymous:
        token = (
            await anonymous.post(
                TOKEN,
                data={
                    "grant_type": "password",
                    "username": "rider.ana",
                    "password": account["secret"],
                },
            )
        ).json()["access_token"]
    assert (await me(app, token)).json()["card_ids"] == [cards[0]]
    async with client_for(app, {"Authorization": f"Bearer {token}"}) as rider:
        own = await rider.get(f"/api/v1/cards/{cards[0]}/balance")
        assert own.status_code == 200
        assert own.json()["balance"] == 0
        for path in ("balance", "history", "ledger"):
            theirs = await rider.get(f"/api/v1/cards/{cards[1]}/{path}")
            assert theirs.status_code == 403, path
        assert (await rider.get(f"/api/v1/trips/card/{cards[1]}")).status_code == 403
        # A card id that does not exist is refused the same way: ids cannot be probed.
        assert (await rider.get("/api/v1/cards/999999/balance")).status_code == 403
        blocked = await rider.post(f"/api/v1/cards/{cards[0]}/block", json={"reason": "lost"})
        assert blocked.status_code == 200, blocked.text
        assert blocked.json()["status"] == "blocked"
        assert (await rider.post(f"/api/v1/cards/{cards[0]}/unblock")).status_code == 403


@pytest.mark.parametrize(
    ("form", "status", "error", "detail"),
    [
        ({}, 400, "invalid_request", "grant_type: required"),
        (
            {"grant_type": "authorization_code"},
            400,
            "unsupported_grant_type",
            "grant_type: must be password or client_credentials",
        ),
        (
            {"grant_type": "password", "password": "x"},
            400,
            "invalid_request",
            "username: required for the password grant",
        ),
        (
            {"grant_type": "password", "username": "ana"},
            400,
            "invalid_request",
            "password: required for the password grant",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "v"},
            400,
            "invalid_request",
            "client_secret: required for the client_credentials grant",
        ),
        (
            {"grant_type": "password", "username": "nobody", "password": "x"},
            400,
            "invalid_grant",
            "username or password is wrong",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            401,
            "invalid_client",
            "client_id or client_secret is wrong",
        ),
    ],
)
async def test_bad_token_requests_are_refused_with_oauth2_errors(
    app: FastAPI, form: dict[str, str], status: int, error: str, detail: str
) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.post(TOKEN, data=form)
    assert response.status_code == status, response.text
    assert response.json() == {"error": error, "detail": detail}


async def test_wrong_secrets_and_wrong_grants_get_no_token(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    person = await create_account(client, "op.luis", "operator")
    device = await create_account(
        client, "kiosk-7", "recharge_point", recharge_point_id=network.counter
    )
    attempts = [
        # the right password with one character changed
        {"grant_type": "password", "username": "op.luis", "password": f"{person['secret']}x"},
        # a device's secret through the password grant, and a person's through the client one
        {"grant_type": "password", "username": "kiosk-7", "password": device["secret"]},
        {
            "grant_type": "client_credentials",
            "client_id": "op.luis",
            "client_secret": person["secret"],
        },
    ]
    async with client_for(app) as anonymous:
        statuses = [(await anonymous.post(TOKEN, data=form)).status_code for form in attempts]
    assert statuses == [400, 400, 401]


async def test_a_deactivated_account_gets_no_new_token_and_is_listed_without_secret(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await create_account(client, "leaving.op", "operator")
    form = {"grant_type": "password", "username": "leaving.op", "password": account["secret"]}
    async with client_for(app) as anonymous:
        assert (await anonymous.post(TOKEN, data=form)).status_code == 200
        deactivated = await client.post("/api/v1/auth/accounts/leaving.op/deactivate")
        assert deactivated.status_code == 200
        assert deactivated.json()["active"] is False
        assert (await anonymous.post(TOKEN, data=form)).status_code == 400
    listed = (await client.get("/api/v1/auth/accounts")).json()
    # (The first is the account `clean` keeps for the test tokens.)
    assert [(a["login"], a["active"]) for a in listed["accounts"]] == [
        (TEST_ACCOUNT_LOGIN, False),
        ("leaving.op", False),
    ]
    assert "secret" not in listed["accounts"][1]
    assert listed["page"] == {"limit": 50, "offset": 0, "returned": 2}
    missing = await client.post("/api/v1/auth/accounts/nobody.here/deactivate")
    assert missing.status_code == 404


async def test_account_creation_validates_and_refuses_duplicates(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await create_account(client, "dup.login", "operator")
    again = await client.post("/api/v1/auth/accounts", json={"login": "dup.login", "role": "admin"})
    assert again.status_code == 409
    assert again.json()["detail"].startswith("login:")
    cases = [
        ({"login": "x", "role": "admin"}, "login"),
        ({"login": "rider.no.user", "role": "rider"}, "user_id"),
        ({"login": "op.with.user", "role": "operator", "user_id": 1}, "user_id"),
        ({"login": "ok.login", "role": "superuser"}, "role"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/auth/accounts", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"], (body, response.text)
    missing_rider = await client.post(
        "/api/v1/auth/accounts", json={"login": "rider.ghost", "role": "rider", "user_id": 999999}
    )
    assert missing_rider.status_code == 404
    assert await count_rows(app, "accounts") == 2  # dup.login and `clean`'s test account


def forged(
    app: FastAPI,
    claims: dict[str, object],
    key: str | None = None,
    alg: str = "HS256",
    drop: tuple[str, ...] = (),
) -> str:
    signer: TokenSigner = app.state.token_signer
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "iss": signer.issuer,
        "aud": signer.audience,
        "sub": "7",
        "login": "mallory",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    payload = {k: v for k, v in {**base, **claims}.items() if k not in drop}
    return jwt.encode(payload, key or signer.key, algorithm=alg)


def _unsigned(app: FastAPI) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    token = forged(app, {})
    payload = token.split(".")[1]
    return f"{header}.{payload}."


def _tampered(app: FastAPI) -> str:
    signer: TokenSigner = app.state.token_signer
    token = signer.issue(Principal(5, "val", Role.validator), datetime.now(UTC)).token
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["role"] = "admin"  # a validator promoting itself, keeping the old signature
    forged_payload = jwt.encode(claims, "k" * 32, algorithm="HS256").split(".")[1]
    assert forged_payload != payload
    return f"{header}.{forged_payload}.{signature}"


@pytest.mark.parametrize(
    ("name", "make", "detail"),
    [
        (
            "expired",
            lambda app: forged(app, {"exp": datetime.now(UTC) - timedelta(minutes=1)}),
            "the token has expired",
        ),
        (
            "not yet valid",
            lambda app: forged(app, {"nbf": datetime.now(UTC) + timedelta(minutes=5)}),
            "the token is not valid",
        ),
        (
            "other key",
            lambda app: forged(app, {}, key="another-key-that-is-long-enough-0123456789"),
            "the token is not valid",
        ),
        ("HS512", lambda app: forged(app, {}, alg="HS512"), "the token is not valid"),
        ("alg none", _unsigned, "the token is not valid"),
        ("tampered", _tampered, "the token is not valid"),
        (
            "other audience",
            lambda app: forged(app, {"aud": "someone-else"}),
            "the token is not valid",
        ),
        ("other issuer", lambda app: forged(app, {"iss": "evil"}), "the token is not valid"),
        ("unknown role", lambda app: forged(app, {"role": "root"}), "the token is not valid"),
        (
            "rider without user",
            lambda app: forged(app, {"role": "rider"}),
            "the token is not valid",
        ),
        (
            "binding of another role",
            lambda app: forged(app, {"role": "operator", "validator_id": "V-1"}),
            "the token is not valid",
        ),
        (
            "binding of the wrong type",
            lambda app: forged(app, {"role": "recharge_point", "recharge_point_id": "1"}),
            "the token is not valid",
        ),
        ("no expiry", lambda app: forged(app, {}, drop=("exp",)), "the token is not valid"),
        ("no role", lambda app: forged(app, {}, drop=("role",)), "the token is not valid"),
        ("garbage", lambda app: "not.a.token", "the token is not valid"),
    ],
)
async def test_forged_expired_and_foreign_tokens_are_401(
    app: FastAPI, name: str, make: object, detail: str
) -> None:
    token = make(app)  # type: ignore[operator]
    async with client_for(app, {"Authorization": f"Bearer {token}"}) as caller:
        response = await caller.get("/api/v1/admin/ledger/verify")
    assert response.status_code == 401, (name, response.text)
    assert response.json() == {"error": "unauthorized", "detail": detail}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_header_that_is_not_bearer_is_401(app: FastAPI) -> None:
    async with client_for(app, {"Authorization": "Basic YWRtaW46YWRtaW4="}) as caller:
        response = await caller.get("/api/v1/cache/stats")
    assert response.status_code == 401
    assert response.json()["detail"] == "the Authorization header must be 'Bearer <token>'"


async def test_a_token_expires_after_its_lifetime(app: FastAPI) -> None:
    signer: TokenSigner = app.state.token_signer
    short = TokenSigner(signer.key, signer.issuer, signer.audience, ttl_s=1)
    # Issued 7 s ago with a 1 s lifetime: past the 5 s clock leeway.
    token = short.issue(Principal(1, "a", Role.admin), datetime.now(UTC) - timedelta(seconds=7))
    fresh = short.issue(Principal(1, "a", Role.admin), datetime.fromtimestamp(time.time(), UTC))
    async with client_for(app, {"Authorization": f"Bearer {token.token}"}) as caller:
        assert (await caller.get("/api/v1/cache/stats")).status_code == 401
    async with client_for(app, {"Authorization": f"Bearer {fresh.token}"}) as caller:
        assert (await caller.get("/api/v1/cache/stats")).status_code == 200


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    from travel_recharge.security import tokens

    signer = TokenSigner("k" * 48, "iss", "aud", ttl_s=30)
    issued = signer.issue(Principal(3, "v-1", Role.validator), datetime.now(UTC)).token
    first = signer.read(issued)
    assert signer.read(issued) is first  # the second read is the remembered one
    later = time.time() + 30 + tokens.CLOCK_LEEWAY_S + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(tokens.InvalidToken, match="the token has expired"):
        signer.read(issued)
