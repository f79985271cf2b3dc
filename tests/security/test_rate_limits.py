"""Rate limits: shared by every app instance through Redis, per principal and per client IP,
answered with 429 and Retry-After, and out of the way when Redis is not there."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ServerUrls, bearer, make_settings, start_app
from travel_recharge.app import create_app
from travel_recharge.security.rate_limit import Rate, client_key
from travel_recharge.security.roles import Role


@asynccontextmanager
async def apps(
    test_servers: ServerUrls, count: int, **overrides: object
) -> AsyncIterator[list[FastAPI]]:
    """`count` app instances (as separate workers would be) sharing one Redis namespace."""
    settings = make_settings(
        test_servers, cache_namespace=f"trrl{uuid.uuid4().hex[:10]}", **overrides
    )
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            runner = start_app(settings)
            app, _client = await anext(runner)
            stack.push_async_callback(runner.aclose)
            started.append(app)
        yield started


def client_of(
    app: FastAPI, ip: str = "10.0.0.1", headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_the_ip_limit_holds_across_two_app_instances(test_servers: ServerUrls) -> None:
    async with apps(test_servers, 2, rate_limits={"reference": {"ip": "4/minute"}}) as (a, b):
        async with client_of(a) as on_a, client_of(b) as on_b:
            statuses = [
                (await (on_a, on_b)[i % 2].get("/api/v1/fares")).status_code for i in range(6)
            ]
            refused = await on_b.get("/api/v1/fares")
        async with client_of(a, ip="10.0.0.2") as elsewhere:
            other_ip = await elsewhere.get("/api/v1/fares")
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 15  # one request per 15 s refills
    assert other_ip.status_code == 200  # another address has its own bucket


async def test_the_principal_limit_holds_across_instances_and_addresses(
    test_servers: ServerUrls,
) -> None:
    limits = {"analytics": {"principal": "3/minute"}}
    async with apps(test_servers, 2, rate_limits=limits) as (a, b):
        analyst = bearer(a, Role.analyst, account_id=41)
        other_analyst = bearer(a, Role.analyst, account_id=42)
        statuses = []
        for i in range(5):
            # A different instance and address each time: the principal is what counts.
            async with client_of((a, b)[i % 2], ip=f"10.1.0.{i}", headers=analyst) as caller:
                statuses.append((await caller.get("/api/v1/trips/total")).status_code)
        async with client_of(b, headers=other_analyst) as other:
            other_status = (await other.get("/api/v1/trips/total")).status_code
    assert statuses == [200, 200, 200, 429, 429]
    assert other_status == 200


async def new_account(app: FastAPI, role: str) -> tuple[str, str]:
    """A fresh account's login and secret (accounts outlive each test: logins are unique)."""
    login = f"{role}.{uuid.uuid4().hex[:8]}"
    body = {"login": login, "role": role}
    if role == "validator":  # a validator account acts as one validator (device bindings)
        body["validator_id"] = f"V-{login}"
    async with client_of(app, headers=bearer(app, Role.admin)) as admin:
        response = await admin.post("/api/v1/auth/accounts", json=body)
    assert response.status_code == 201, response.text
    return login, response.json()["secret"]


def password(login: str, secret: str) -> dict[str, str]:
    return {"grant_type": "password", "username": login, "password": secret}


def client_credentials(login: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": login, "client_secret": secret}


async def token_status(app: FastAPI, ip: str, form: dict[str, str]) -> int:
    async with client_of(app, ip=ip) as caller:
        return (await caller.post("/api/v1/auth/token", data=form)).status_code


@pytest.mark.parametrize(("role", "form", "wrong"), [
    ("operator", password, 400),
    ("validator", client_credentials, 401),
])  # fmt: skip
async def test_failures_from_other_addresses_never_lock_out_the_right_secret(
    test_servers: ServerUrls,
    role: str,
    form: Callable[[str, str], dict[str, str]],
    wrong: int,
) -> None:
    """Security issue #18, finding 2: strangers failing for a login (a validator's client_id
    is predictable) must not stop the device holding the right secret from getting tokens."""
    limits = {"auth": {"principal": "3/minute", "ip": "1000/minute"}}
    async with apps(test_servers, 2, rate_limits=limits) as (a, b):
        login, secret = await new_account(a, role)
        attempts = [
            await token_status((a, b)[i % 2], f"10.2.{i}.1", form(login, "guess"))
            for i in range(4)
            for _ in range(4)
        ]
        right_secret = await token_status(b, "10.9.9.9", form(login, secret))
    # Each address fails 3 times, then is refused before any check; the others are not.
    assert attempts == [wrong, wrong, wrong, 429] * 4
    assert right_secret == 200


async def test_the_address_that_failed_too_often_is_refused_even_with_the_right_secret(
    test_servers: ServerUrls,
) -> None:
    limits = {"auth": {"principal": "3/hour", "ip": "1000/minute"}}
    async with apps(test_servers, 2, rate_limits=limits) as (a, b):
        login, secret = await new_account(a, "analyst")
        failing = [await token_status(a, "10.3.0.1", password(login, "guess")) for _ in range(4)]
        right_from_there = await token_status(b, "10.3.0.1", password(login, secret))
        other_login_from_there = await token_status(a, "10.3.0.1", password("someone.else", "x"))
    assert failing == [400, 400, 400, 429]
    # The refusal comes before the check: this address cannot go on guessing.
    assert right_from_there == 429
    assert other_login_from_there == 400  # the count is per login as well


async def test_the_right_secret_clears_its_address_count(test_servers: ServerUrls) -> None:
    limits = {"auth": {"principal": "3/hour", "ip": "1000/minute"}}
    async with apps(test_servers, 1, rate_limits=limits) as [app]:
        login, secret = await new_account(app, "analyst")
        wrong, right = password(login, "guess"), password(login, secret)
        statuses = [
            await token_status(app, "10.4.0.1", form)
            for form in (wrong, wrong, right, right, right, right, wrong, wrong, wrong, wrong)
        ]
    # Only failures add up: successes never fill the bucket, and the first clears it.
    assert statuses == [400, 400, 200, 200, 200, 200, 400, 400, 400, 429]


async def test_every_attempt_counts_per_address_whatever_the_login(
    test_servers: ServerUrls,
) -> None:
    """The per-address limit bounds the argon2 work one address can cause, right or wrong."""
    limits = {"auth": {"principal": "1000/minute", "ip": "4/minute"}}
    async with apps(test_servers, 1, rate_limits=limits) as [app]:
        login, secret = await new_account(app, "analyst")
        forms = [password(f"login.{i}", "guess") for i in range(3)] + [password(login, secret)] * 2
        statuses = [await token_status(app, "10.5.0.1", form) for form in forms]
        elsewhere = await token_status(app, "10.5.0.2", password(login, secret))
    assert statuses == [400, 400, 400, 200, 429]
    assert elsewhere == 200


@pytest.mark.parametrize(("same", "other"), [
    # Any address of one /64 is the same IPv6 client; the next /64 is another.
    (["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fe", "2001:db8:1:2::ab"], "2001:db8:1:3::1"),
    # An IPv4 client on a dual-stack socket is its IPv4 address.
    (["::ffff:10.6.0.1", "10.6.0.1", "::ffff:10.6.0.1"], "10.6.0.2"),
])  # fmt: skip
async def test_ipv6_clients_are_counted_per_64(
    test_servers: ServerUrls, same: list[str], other: str
) -> None:
    async with apps(test_servers, 1, rate_limits={"reference": {"ip": "2/minute"}}) as [app]:
        statuses = []
        for ip in same:
            async with client_of(app, ip=ip) as caller:
                statuses.append((await caller.get("/api/v1/fares")).status_code)
        async with client_of(app, ip=other) as caller:
            other_status = (await caller.get("/api/v1/fares")).status_code
    assert statuses == [200, 200, 429]
    assert other_status == 200


@pytest.mark.parametrize(("host", "key"), [
    ("10.0.0.1", "10.0.0.1"),
    ("2001:DB8:0:1:2:3:4:5", "2001:db8:0:1::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("testclient", "testclient"),
])  # fmt: skip
def test_client_key(host: str, key: str) -> None:
    assert client_key(host) == key


async def test_a_refused_client_is_admitted_again_after_retry_after(
    test_servers: ServerUrls,
) -> None:
    limits = {"reference": {"ip": "1/second"}}
    async with apps(test_servers, 1, rate_limits=limits) as [app], client_of(app) as caller:
        first = await caller.get("/api/v1/fares")
        second = await caller.get("/api/v1/fares")
        await asyncio.sleep(float(second.headers["retry-after"]) + 0.05)
        third = await caller.get("/api/v1/fares")
    assert (first.status_code, second.status_code, third.status_code) == (200, 429, 200)
    assert second.headers["retry-after"] == "1"


async def test_limits_fail_open_when_redis_is_unreachable(test_servers: ServerUrls) -> None:
    async with (
        apps(
            test_servers,
            1,
            redis_url="redis://127.0.0.1:1/0",
            rate_limits={"reference": {"ip": "1/minute"}},
        ) as [app],
        client_of(app) as caller,
    ):
        statuses = {(await caller.get("/api/v1/fares")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_health_is_never_limited(test_servers: ServerUrls) -> None:
    limits = {"reference": {"ip": "1/minute"}, "health": {}}
    async with apps(test_servers, 1, rate_limits=limits) as [app], client_of(app) as caller:
        statuses = {(await caller.get("/api/v1/health")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_disabled_limits_refuse_nothing(test_servers: ServerUrls) -> None:
    limits = {"reference": {"ip": "1/minute"}}
    enabled = False
    async with (
        apps(test_servers, 1, rate_limits=limits, rate_limits_enabled=enabled) as [app],
        client_of(app) as caller,
    ):
        statuses = {(await caller.get("/api/v1/fares")).status_code for _ in range(3)}
    assert statuses == {200}


@pytest.mark.parametrize(
    ("text", "rate"),
    [("600/minute", Rate(600, 60)), ("1/second", Rate(1, 1)), (" 20 / hour ", Rate(20, 3600))],
)
def test_rates_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("text", ["0/minute", "ten/minute", "5/day", "5", "-1/second", ""])
def test_a_bad_rate_stops_the_app_from_starting(test_servers: ServerUrls, text: str) -> None:
    settings = make_settings(test_servers, rate_limits={"taps": {"principal": text}})
    with pytest.raises(ValueError, match="is not a rate like '600/minute'"):
        create_app(settings)
