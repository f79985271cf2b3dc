"""Who may call what: every endpoint against every role, as the security issue specifies.

The expected matrix is written out here, independently of the declarations in the routers;
a route missing from it (or listed but gone) fails the first test, so a new endpoint cannot
arrive without someone deciding who may call it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, bearer, client_for
from tests.money import new_user
from travel_recharge.security.roles import Role
from travel_recharge.security.routes import secure_routes

ANONYMOUS = "anonymous"
OWNER = "rider-owner"  # a rider calling for their own card
OTHER_RIDER = "rider-other"  # a rider calling for someone else's card
STAFF = [r.value for r in Role if r is not Role.rider]
CALLERS = [ANONYMOUS, OWNER, OTHER_RIDER, *STAFF]
EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {ANONYMOUS}


def only(*callers: str) -> frozenset[str]:
    return frozenset({*callers, "admin"})


CARD_READERS = only("operator", OWNER)
ANALYSTS = only("analyst")
# Dashboards: analysts and operators watch the live figures and the service's metrics.
WATCHERS = only("analyst", "operator")
OPERATORS = only("operator")
ADMINS = only()

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/accounts"): ADMINS,
    ("GET", "/api/v1/auth/accounts"): ADMINS,
    ("POST", "/api/v1/auth/accounts/{login}/deactivate"): ADMINS,
    ("POST", "/api/v1/auth/accounts/{login}/revoke-tokens"): ADMINS,
    ("POST", "/api/v1/auth/accounts/{login}/rotate-secret"): ADMINS,
    ("POST", "/api/v1/auth/tokens/revoke"): ADMINS,
    ("GET", "/api/v1/health"): EVERYONE,
    ("GET", "/api/v1/health/db"): EVERYONE,
    ("GET", "/api/v1/health/cache"): EVERYONE,
    ("GET", "/api/v1/fares"): EVERYONE,
    ("POST", "/api/v1/users"): OPERATORS,
    ("POST", "/api/v1/cards"): only("recharge_point", "operator"),
    ("POST", "/api/v1/cards/recharge"): only("recharge_point"),
    ("GET", "/api/v1/cards/{card_id}/balance"): CARD_READERS,
    ("GET", "/api/v1/cards/{card_id}/history"): CARD_READERS,
    ("GET", "/api/v1/cards/{card_id}/ledger"): CARD_READERS,
    ("POST", "/api/v1/cards/{card_id}/block"): only("operator", OWNER),
    ("POST", "/api/v1/cards/{card_id}/unblock"): OPERATORS,
    ("POST", "/api/v1/cards/{card_id}/replace"): OPERATORS,
    ("GET", "/api/v1/cards/deny-list"): only("validator", "operator"),
    ("POST", "/api/v1/cards/web-recharges"): only("recharge_point"),
    ("GET", "/api/v1/cards/{card_id}/web-recharges"): CARD_READERS,
    ("POST", "/api/v1/trips/start"): only("validator"),
    ("POST", "/api/v1/trips/end"): only("validator"),
    ("POST", "/api/v1/trips/batches"): only("validator"),
    ("GET", "/api/v1/trips/offline-risks"): only("analyst", "operator"),
    ("GET", "/api/v1/trips/card/{card_id}"): CARD_READERS,
    ("GET", "/api/v1/admin/ledger/verify"): ADMINS,
    ("POST", "/api/v1/adjustments"): OPERATORS,
    ("GET", "/api/v1/adjustments"): OPERATORS,
    ("GET", "/api/v1/adjustments/{adjustment_id}"): OPERATORS,
    ("POST", "/api/v1/adjustments/{adjustment_id}/approve"): OPERATORS,
    ("POST", "/api/v1/adjustments/{adjustment_id}/reject"): OPERATORS,
    ("GET", "/api/v1/users/count"): ANALYSTS,
    ("GET", "/api/v1/users/active/count"): ANALYSTS,
    ("GET", "/api/v1/users/latest"): ANALYSTS,
    ("GET", "/api/v1/trips/total"): ANALYSTS,
    ("GET", "/api/v1/trips/total/localities"): ANALYSTS,
    ("GET", "/api/v1/finance/revenue"): ANALYSTS,
    ("GET", "/api/v1/finance/revenue/localities"): ANALYSTS,
    ("GET", "/api/v1/analytics/trips-by-hour"): ANALYSTS,
    ("GET", "/api/v1/analytics/revenue-by-day"): ANALYSTS,
    ("GET", "/api/v1/analytics/top-stations"): ANALYSTS,
    ("GET", "/api/v1/analytics/shares"): ANALYSTS,
    ("GET", "/api/v1/analytics/live"): WATCHERS,
    ("GET", "/api/v1/analytics/revenue-forecast"): WATCHERS,
    ("GET", "/api/v1/analytics/station-performance"): WATCHERS,
    ("GET", "/api/v1/analytics/od-matrix"): WATCHERS,
    ("GET", "/api/v1/analytics/transfer-flows"): WATCHERS,
    ("GET", "/api/v1/analytics/riders"): WATCHERS,
    ("GET", "/api/v1/stations"): EVERYONE,
    ("GET", "/api/v1/stations/identifiers"): EVERYONE,
    ("GET", "/api/v1/stations/{station_code}/details"): EVERYONE,
    ("GET", "/api/v1/stations/{station_id}/arrivals"): EVERYONE,
    ("GET", "/api/v1/stations/{station_id}/alerts"): EVERYONE,
    ("GET", "/api/v1/routes/codes"): EVERYONE,
    ("GET", "/api/v1/routes/{route_code}/details"): EVERYONE,
    ("GET", "/api/v1/recharge-points"): EVERYONE,
    ("GET", "/api/v1/gtfs-rt/alerts"): EVERYONE,
    ("GET", "/api/v1/gtfs-rt/trip-updates"): EVERYONE,
    ("POST", "/api/v1/alerts"): OPERATORS,
    ("PATCH", "/api/v1/alerts/{alert_id}"): OPERATORS,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): OPERATORS,
    ("GET", "/api/v1/cache/stats"): OPERATORS,
    ("GET", "/api/v1/cache/keys"): OPERATORS,
    ("GET", "/api/v1/cache/health"): OPERATORS,
    # Hundreds of requests per call (security issue #18, finding 4).
    ("GET", "/api/v1/cache/performance-test"): ADMINS,
    ("POST", "/api/v1/cache/clear"): ADMINS,
    ("DELETE", "/api/v1/cache/key/{key_name}"): ADMINS,
    ("GET", "/api/v1/simulator"): OPERATORS,
    ("POST", "/api/v1/simulator/start"): OPERATORS,
    ("POST", "/api/v1/simulator/stop"): OPERATORS,
    ("DELETE", "/api/v1/simulator/data"): OPERATORS,
    ("GET", "/metrics"): ANALYSTS,
    ("GET", "/api/v1/metrics/summary"): WATCHERS,
    # The pages themselves are public; their data comes from the API, by role.
    ("GET", "/"): EVERYONE,
    ("GET", "/favicon.ico"): EVERYONE,
    ("GET", "/dashboard"): EVERYONE,
    ("GET", "/routes"): EVERYONE,
    ("GET", "/cache"): EVERYONE,
    ("GET", "/insights"): EVERYONE,
}


def test_every_route_of_the_app_is_in_the_matrix(app: FastAPI) -> None:
    declared = secure_routes(app, limited_groups=[])
    assert set(declared) == set(EXPECTED)


def test_admin_endpoints_admit_the_admin_role_only(app: FastAPI) -> None:
    declared = secure_routes(app, limited_groups=[])
    changes_the_cache = [key for key in declared if "/cache/" in key[1] and key[0] != "GET"]
    admin_paths = [key for key in declared if "/admin/" in key[1]] + changes_the_cache
    assert len(admin_paths) == 3
    for key in admin_paths:
        assert declared[key].roles == {Role.admin}, key
        assert not declared[key].owners, key


def test_a_route_without_an_access_rule_stops_the_app_from_starting() -> None:
    from fastapi import APIRouter

    from travel_recharge.security.routes import UndeclaredAccess

    bare = FastAPI()
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    bare.include_router(router)
    with pytest.raises(UndeclaredAccess, match="GET /api/v1/forgotten declares 0 access rules"):
        secure_routes(bare, limited_groups=[])


def test_a_route_with_two_access_rules_stops_the_app_from_starting() -> None:
    from fastapi import APIRouter

    from travel_recharge.security import allow, public
    from travel_recharge.security.routes import UndeclaredAccess

    bare = FastAPI()
    router = APIRouter(prefix="/api/v1/open", dependencies=[public("reference")])

    @router.post("/twice", dependencies=[allow("admin")])
    async def twice() -> dict[str, str]:
        return {}

    bare.include_router(router)
    with pytest.raises(UndeclaredAccess, match="POST /api/v1/open/twice declares 2 access rules"):
        secure_routes(bare, limited_groups=[])


@dataclass(frozen=True)
class World:
    card_id: int
    owner: int
    other_rider: int
    network: Network


@pytest.fixture
async def world(client: httpx.AsyncClient, network: Network) -> World:
    owner = await new_user(client)
    other = await new_user(client)
    response = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": owner}
    )
    assert response.status_code == 201, response.text
    return World(response.json()["card_id"], owner, other, network)


@pytest.fixture
async def callers(app: FastAPI, world: World) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    headers: dict[str, dict[str, str] | None] = {
        ANONYMOUS: None,
        OWNER: bearer(app, Role.rider, user_id=world.owner, account_id=101),
        OTHER_RIDER: bearer(app, Role.rider, user_id=world.other_rider, account_id=102),
    }
    for role in STAFF:
        headers[role] = bearer(app, Role(role), account_id=200 + len(headers))
    clients = {name: client_for(app, value) for name, value in headers.items()}
    yield clients
    for each in clients.values():
        await each.aclose()


def _concrete(path: str, world: World, app: FastAPI) -> str:
    namespace = app.state.settings.cache_namespace
    return path.format(
        card_id=world.card_id,
        station_code="02000",
        station_id=world.network.trunk_station,
        route_code=world.network.trunk_route,
        alert_id=1,
        adjustment_id=1,
        key_name=f"{namespace}:no-such-key",
        login="no.such.login",
    )


async def test_every_endpoint_answers_every_caller_as_specified(
    app: FastAPI, world: World, callers: dict[str, httpx.AsyncClient]
) -> None:
    refused: list[str] = []
    for (method, path), allowed in EXPECTED.items():
        if path == "/api/v1/cache/performance-test":
            continue  # slow (it measures); its access rule is the router's, checked below
        url = _concrete(path, world, app)
        for caller in CALLERS:
            # An empty JSON body: the allowed get past the access rule to a 4xx of their own
            # (or a 2xx for reads), and nothing is written.
            body = {} if method in ("POST", "PATCH") else None
            response = await callers[caller].request(method, url, json=body)
            status = response.status_code
            if caller in allowed:
                ok = status not in (401, 403)
            else:
                ok = status == (401 if caller == ANONYMOUS else 403)
                ok = ok and response.json()["error"] in ("unauthorized", "forbidden")
            if not ok:
                refused.append(f"{caller} {method} {path} -> {status} {response.text[:120]}")
    assert refused == []


async def test_the_performance_test_is_for_admins_only(
    callers: dict[str, httpx.AsyncClient],
) -> None:
    path = "/api/v1/cache/performance-test?samples=5"
    for caller in CALLERS:
        if caller in ADMINS:
            continue
        response = await callers[caller].get(path)
        assert response.status_code == (401 if caller == ANONYMOUS else 403), caller
    response = await callers["admin"].get(path)
    assert response.status_code == 200
    assert {row["status"] for row in response.json()["endpoints"]} == {200}


async def test_401_names_the_bearer_scheme_and_403_names_the_role(
    callers: dict[str, httpx.AsyncClient], world: World
) -> None:
    response = await callers[ANONYMOUS].get("/api/v1/trips/total")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": "unauthorized",
        "detail": "this endpoint needs a bearer token",
    }
    response = await callers["validator"].get("/api/v1/trips/total")
    assert response.status_code == 403
    assert response.json()["detail"] == "the validator role may not use this endpoint"
    response = await callers[OTHER_RIDER].get(f"/api/v1/cards/{world.card_id}/balance")
    assert response.status_code == 403
    assert response.json()["detail"] == f"card {world.card_id} does not belong to this rider"
