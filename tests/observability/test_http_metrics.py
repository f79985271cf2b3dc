"""HTTP metrics: counted by route template, method and status, with latency; /metrics access."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, bearer, client_for
from tests.money import new_card
from tests.observability.samples import label_values, scraped, value
from travel_recharge.security.roles import Role

BALANCE = "/api/v1/cards/{card_id}/balance"


def requests(route: str, method: str, status: int) -> float:
    return value("http_requests_total", route=route, method=method, status=str(status))


def latency_count(route: str, method: str) -> float:
    return value("http_request_duration_seconds_count", route=route, method=method)


async def test_requests_are_counted_once_each_under_their_route_template(
    client: httpx.AsyncClient, network: Network
) -> None:
    cards = [await new_card(client) for _ in range(3)]
    ok_before = requests(BALANCE, "GET", 200)
    missing_before = requests(BALANCE, "GET", 404)
    timed_before = latency_count(BALANCE, "GET")
    for n in range(9):
        response = await client.get(f"/api/v1/cards/{cards[n % 3]}/balance")
        assert response.status_code == 200
    assert (await client.get("/api/v1/cards/987654321/balance")).status_code == 404

    assert requests(BALANCE, "GET", 200) - ok_before == 9
    assert requests(BALANCE, "GET", 404) - missing_before == 1
    assert latency_count(BALANCE, "GET") - timed_before == 10
    routes = label_values("route")
    assert BALANCE in routes
    assert not any(f"/{card_id}/" in route for route in routes for card_id in cards)


async def test_latency_lands_in_millisecond_buckets(client: httpx.AsyncClient) -> None:
    route = "/api/v1/health"
    below_2_5s = value("http_request_duration_seconds_bucket", route=route, method="GET", le="2.5")
    assert (await client.get(route)).status_code == 200
    after = value("http_request_duration_seconds_bucket", route=route, method="GET", le="2.5")
    assert after - below_2_5s == 1
    assert value("http_request_duration_seconds_sum", route=route, method="GET") > 0


async def test_unmatched_paths_and_invented_methods_cannot_grow_the_labels(
    client: httpx.AsyncClient,
) -> None:
    before = requests("unmatched", "GET", 404)
    probes = [f"/wp-admin/{uuid.uuid4().hex}" for _ in range(5)]
    for path in probes:
        assert (await client.get(path)).status_code == 404
    assert requests("unmatched", "GET", 404) - before == 5
    assert not any(path in route for route in label_values("route") for path in probes)

    invented = requests("/api/v1/health", "other", 405)
    assert (await client.request("BREW", "/api/v1/health")).status_code == 405
    assert requests("/api/v1/health", "other", 405) - invented == 1
    assert "BREW" not in label_values("method")


async def test_static_files_share_one_label_per_mount(client: httpx.AsyncClient) -> None:
    found = requests("/static/{path}", "GET", 200)
    missing = requests("/static/{path}", "GET", 404)
    assert (await client.get("/static/common.js")).status_code == 200
    assert (await client.get("/static/style.css")).status_code == 200
    assert (await client.get(f"/static/{uuid.uuid4().hex}.js")).status_code == 404
    assert requests("/static/{path}", "GET", 200) - found == 2
    assert requests("/static/{path}", "GET", 404) - missing == 1
    assert not any(".js" in route or ".css" in route for route in label_values("route"))


async def test_metrics_answers_the_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    counted = scraped(
        response.text, "http_requests_total", route="/api/v1/health", method="GET", status="200"
    )
    assert counted == requests("/api/v1/health", "GET", 200) >= 1
    assert "# TYPE travel_recharge_http_request_duration_seconds histogram" in response.text


@pytest.mark.parametrize(
    ("caller", "status"),
    [(None, 401), (Role.rider, 403), (Role.validator, 403), (Role.analyst, 200)],
)
async def test_metrics_need_an_analyst_or_admin_token(
    app: FastAPI, caller: Role | None, status: int
) -> None:
    rider = {"user_id": 1} if caller is Role.rider else {}
    headers = bearer(app, caller, **rider) if caller is not None else None
    async with client_for(app, headers) as anyone:
        assert (await anyone.get("/metrics")).status_code == status


async def test_the_cache_performance_test_is_not_counted_as_traffic(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client)
    before = requests(BALANCE, "GET", 200)
    response = await client.get(
        "/api/v1/cache/performance-test", params={"samples": 5, "card_id": card_id}
    )
    assert response.status_code == 200
    assert requests(BALANCE, "GET", 200) == before
