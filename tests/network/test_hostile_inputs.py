"""Nothing a client sends to the network endpoints produces a 500 or writes anything."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import count_rows

pytestmark = pytest.mark.usefixtures("reference_network")

HOSTILE_READS = [
    "/api/v1/stations?locality=%00",
    "/api/v1/stations?kind=%00",
    "/api/v1/stations?kind=PORTAL",
    "/api/v1/stations?limit=1e3",
    "/api/v1/stations?offset=99999999999999999999999",
    "/api/v1/stations?limit=-0",
    "/api/v1/stations/%00/details",
    "/api/v1/stations/%EF%BC%90%EF%BC%92%EF%BC%90%EF%BC%90%EF%BC%90/details",  # full-width digits
    "/api/v1/stations/02000%0A/details",
    "/api/v1/stations/-1/arrivals",
    "/api/v1/stations/1.5/arrivals",
    "/api/v1/stations/1/arrivals?at=2025-03-10T07:00:00%2B23:59",
    "/api/v1/stations/1/arrivals?at=2099-12-31T23:59:00-12:00",
    "/api/v1/stations/1/arrivals?at=2000-01-01T00:00:00%2B14:00",
    "/api/v1/stations/1/arrivals?at=2025-03-10T07:00:00Z&per_route=99999999999999999999",
    "/api/v1/stations/1/arrivals?at=2025-02-30T07:00:00Z",
    "/api/v1/stations/1/alerts?offset=10000001",
    "/api/v1/stations/1/alerts?active_only=",
    "/api/v1/routes/%00/details",
    "/api/v1/routes/B74%00/details",
    "/api/v1/routes/%2E%2E/details",
    "/api/v1/recharge-points?channel=WEB",
    "/api/v1/recharge-points?locality=%C3%B1%C3%B1",
    "/api/v1/recharge-points?channel=web%00",
    "/api/v1/stations/1/arrivals?at=2025-03-10T07:00:00Z%00",
    "/api/v1/stations/%ED%A0%80/details",  # an encoded surrogate: not UTF-8
]


@pytest.mark.parametrize("path", HOSTILE_READS)
async def test_hostile_reads_are_answered_without_a_server_error(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 404, 422)
    if response.status_code != 200:
        assert set(response.json()) >= {"error", "detail"}


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/api/v1/alerts", b"not json"),
        ("POST", "/api/v1/alerts", b"[]"),
        ("POST", "/api/v1/alerts", b'{"route_code": {"$ne": 1}}'),
        ("POST", "/api/v1/alerts", b'{"station_id": 1e400}'),
        ("POST", "/api/v1/alerts", b'{"station_id": 99999999999999999999999999}'),
        ("POST", "/api/v1/alerts", b'{"route_code": "B74", "message": "\\ud800"}'),
        # PostgreSQL cannot store these, whatever else the body holds (security issue #18).
        ("POST", "/api/v1/alerts", b'{"severity": "info", "message": "\\u0000"}'),
        ("POST", "/api/v1/alerts", b'{"severity": "info", "message": "ok", "\\u0000": 1}'),
        ("PATCH", "/api/v1/alerts/1", b'{"message": "\\udfff"}'),
        ("PATCH", "/api/v1/alerts/1", b'["message"]'),
        ("PATCH", "/api/v1/alerts/1", b'{"active_until": 1e400}'),
        ("POST", "/api/v1/alerts/1/resolve", b"{}"),
    ],
)
async def test_hostile_writes_are_refused_without_a_server_error(
    client: httpx.AsyncClient, app: FastAPI, method: str, path: str, content: bytes
) -> None:
    response = await client.request(
        method, path, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (404, 422), response.text
    assert await count_rows(app, "alerts") == 0
