"""Revoking tokens before they expire: one token, every token of an account, a device's
secret; refused on every road a request can take (routes, replayed cached answers, the direct
tap route), by other workers after their next load, and with Redis unreachable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    TEST_ACCOUNT_ID,
    ServerUrls,
    bearer,
    client_for,
    make_settings,
    start_app,
)
from tests.money import new_card
from tests.security.test_tokens import create_account
from travel_recharge.accounts.revocations import service as revocations
from travel_recharge.security.revocations import RevokedTokens
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import InvalidToken, Principal, TokenSigner

TOKEN = "/api/v1/auth/token"
pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture(autouse=True)
def forget_revocations(app: FastAPI) -> AsyncIterator[None]:
    """The session's app keeps what its signer was told: no test leaves it to the next."""
    yield  # type: ignore[misc]
    app.state.token_signer.revoked.replace([])


async def token_of(app: FastAPI, form: dict[str, object]) -> str:
    async with client_for(app) as anonymous:
        response = await anonymous.post(TOKEN, data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def person(app: FastAPI, client: httpx.AsyncClient, login: str, role: str) -> dict[str, str]:
    account = await create_account(client, login, role)
    return {"grant_type": "password", "username": login, "password": str(account["secret"])}


async def status_of(app: FastAPI, token: str, path: str = "/api/v1/auth/me") -> int:
    async with client_for(app, {"Authorization": f"Bearer {token}"}) as caller:
        return (await caller.get(path)).status_code


async def revoke(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/tokens/revoke", json={"token": token})


async def test_a_revoked_token_is_refused_on_every_road_and_its_siblings_work(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    form = await person(app, client, "op.revoked", "operator")
    first, second = await token_of(app, form), await token_of(app, form)
    card_id = await new_card(client)
    balance = f"/api/v1/cards/{card_id}/balance"
    # Asked twice, the balance is learned and then replayed at the edge (kit.replay).
    assert [await status_of(app, first, balance) for _ in range(2)] == [200, 200]

    revoked = await revoke(client, first)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["token_id"] is not None
    assert body["issued_before"] is None
    assert await status_of(app, first) == 401
    assert await status_of(app, first, balance) == 401
    async with client_for(app, {"Authorization": f"Bearer {first}"}) as caller:
        refused = await caller.get("/api/v1/auth/me")
    assert refused.json()["detail"] == "the token has been revoked"
    assert await status_of(app, second) == 200
    assert await status_of(app, second, balance) == 200


async def test_a_revoked_validator_token_cannot_tap_on_the_direct_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    device = await create_account(client, "gate-rev-1", "validator", validator_id="V-REV-1")
    form = {
        "grant_type": "client_credentials",
        "client_id": "gate-rev-1",
        "client_secret": str(device["secret"]),
    }
    token = await token_of(app, form)
    assert (await revoke(client, token)).status_code == 200
    tap = {"card_id": 1, "validator_id": "V-REV-1", "tap_id": str(uuid.uuid4()), "station_id": 1}
    async with client_for(app, {"Authorization": f"Bearer {token}"}) as validator:
        response = await validator.post("/api/v1/trips/start", json=tap)
    assert response.status_code == 401
    assert response.json()["detail"] == "the token has been revoked"


async def test_all_of_an_accounts_tokens_are_revoked_and_later_ones_work(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    form = await person(app, client, "an.leaked", "analyst")
    held = [await token_of(app, form) for _ in range(2)]
    revoked = await client.post("/api/v1/auth/accounts/an.leaked/revoke-tokens")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["token_id"] is None
    assert [await status_of(app, token) for token in held] == [401, 401]
    later = await token_of(app, form)  # within the same second, to the microsecond
    assert await status_of(app, later) == 200
    missing = await client.post("/api/v1/auth/accounts/nobody.here/revoke-tokens")
    assert missing.status_code == 404


async def test_deactivating_an_account_revokes_the_tokens_it_holds(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    form = await person(app, client, "op.leaving", "operator")
    token = await token_of(app, form)
    assert (await client.post("/api/v1/auth/accounts/op.leaving/deactivate")).status_code == 200
    assert await status_of(app, token) == 401


async def test_rotating_a_devices_secret_retires_the_old_secret_and_its_tokens(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    device = await create_account(client, "kiosk-rot", "validator", validator_id="V-ROT-1")
    old = {
        "grant_type": "client_credentials",
        "client_id": "kiosk-rot",
        "client_secret": str(device["secret"]),
    }
    held = await token_of(app, old)
    rotated = await client.post("/api/v1/auth/accounts/kiosk-rot/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.json()["secret"]
    assert new_secret != device["secret"]
    assert await status_of(app, held) == 401
    async with client_for(app) as anonymous:
        assert (await anonymous.post(TOKEN, data=old)).status_code == 401
    fresh = await token_of(app, old | {"client_secret": new_secret})
    assert await status_of(app, fresh) == 200

    await person(app, client, "op.person", "operator")
    refused = await client.post("/api/v1/auth/accounts/op.person/rotate-secret")
    assert refused.status_code == 409
    missing = await client.post("/api/v1/auth/accounts/nobody.here/rotate-secret")
    assert missing.status_code == 404


async def test_another_worker_refuses_the_token_after_its_next_load(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A second signer with the same key is another worker: it has not been told."""
    form = await person(app, client, "op.elsewhere", "operator")
    token = await token_of(app, form)
    settings = app.state.settings
    other = TokenSigner(
        settings.auth_signing_key.get_secret_value(),
        settings.auth_issuer,
        settings.auth_audience,
        settings.auth_token_ttl_s,
    )
    assert other.read(token).login == "op.elsewhere"
    assert (await revoke(client, token)).status_code == 200
    assert other.read(token).login == "op.elsewhere"  # not loaded yet
    async with app.state.database.read_sessions() as session:
        assert await revocations.load(session, other, datetime.now(UTC)) == 1
    with pytest.raises(InvalidToken, match="revoked"):
        other.read(token)


async def test_the_workers_loop_loads_revocations_and_redis_plays_no_part(
    test_servers: ServerUrls, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A worker whose Redis is unreachable, with the loop running: a revocation made by
    another worker reaches it within the loop's interval."""
    form = await person(app, client, "op.no.redis", "operator")
    token = await token_of(app, form)
    settings = make_settings(
        test_servers, redis_url="redis://127.0.0.1:1/0", revocation_refresh_s=0.05
    )
    async for worker, _ in start_app(settings):
        assert await status_of(worker, token) == 200
        assert (await revoke(client, token)).status_code == 200  # on the other worker
        for _ in range(200):
            if await status_of(worker, token) == 401:
                break
            await asyncio.sleep(0.05)
        assert await status_of(worker, token) == 401


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"token": "not-a-token"}, "token: not a token this service issued"),
        ({"token": ""}, "token"),
        ({"token": "x", "also": 1}, "also"),
        ({}, "token"),
    ],
)
async def test_a_bad_revocation_is_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], problem: str
) -> None:
    response = await client.post("/api/v1/auth/tokens/revoke", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(problem)


async def test_a_token_signed_with_another_key_cannot_be_revoked(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    stranger = TokenSigner("another-key-" + "x" * 40, "travel-recharge", "travel-recharge-api", 60)
    foreign = stranger.issue(Principal(TEST_ACCOUNT_ID, "x", Role.admin), datetime.now(UTC))
    refused = await revoke(client, foreign.token)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "token: not a token this service issued"
    # Nothing was revoked: the test's own admin tokens still work.
    ours = bearer(app, Role.admin)["Authorization"].removeprefix("Bearer ")
    assert await status_of(app, ours) == 200


def test_of_two_revocations_of_an_accounts_tokens_the_later_counts() -> None:
    """Loaded together or added one after the other, in either order."""
    loaded = RevokedTokens()
    loaded.replace([(7, None, 200.0), (7, None, 100.0), (8, "t-1", None)])
    added = RevokedTokens()
    for revocation in [(7, None, 200.0), (7, None, 100.0), (8, "t-1", None)]:
        added.add(revocation)
    for tokens in (loaded, added):
        assert tokens.refuses(None, 7, 150.0)  # issued before the later cut
        assert not tokens.refuses(None, 7, 250.0)
        assert tokens.refuses("t-1", 8, 999.0)
        assert not tokens.refuses("t-2", 8, 0.0)
