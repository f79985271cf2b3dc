"""The network endpoints document themselves: descriptions, error statuses, revalidation."""

from __future__ import annotations

import httpx
import pytest

# (method, path, statuses the operation documents besides its success). Public reads may
# be refused by the rate limit; alert writes also need an operator token. All of them
# reach the database, which may be unavailable (503).
READ = {"429", "503"}
WRITE = {"401", "403", "429", "503"}
OPERATIONS = [
    ("get", "/api/v1/stations", READ | {"304", "422"}),
    ("get", "/api/v1/stations/identifiers", READ | {"304"}),
    ("get", "/api/v1/stations/{station_code}/details", READ | {"304", "404", "422"}),
    ("get", "/api/v1/stations/{station_id}/arrivals", READ | {"404", "422"}),
    ("get", "/api/v1/stations/{station_id}/alerts", READ | {"404", "422"}),
    ("get", "/api/v1/routes/codes", READ | {"304"}),
    ("get", "/api/v1/routes/{route_code}/details", READ | {"304", "404", "422"}),
    ("get", "/api/v1/recharge-points", READ | {"304", "422"}),
    ("get", "/api/v1/gtfs-rt/alerts", READ | {"422"}),
    ("get", "/api/v1/gtfs-rt/trip-updates", READ | {"404", "422"}),
    ("post", "/api/v1/alerts", WRITE | {"404", "422"}),
    ("patch", "/api/v1/alerts/{alert_id}", WRITE | {"404", "409", "422"}),
    ("post", "/api/v1/alerts/{alert_id}/resolve", WRITE | {"404", "409", "422"}),
]


@pytest.mark.parametrize(("method", "path", "errors"), OPERATIONS)
async def test_network_operations_are_documented(
    client: httpx.AsyncClient, method: str, path: str, errors: set[str]
) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"][path][method]
    assert operation["description"]
    assert "\n" not in operation["description"]  # one line, from the docstring
    success = {"201"} if (method, path) == ("post", "/api/v1/alerts") else {"200"}
    assert set(operation["responses"]) == success | errors
    content = operation["responses"][next(iter(success))]["content"]["application/json"]
    assert "$ref" in content["schema"]  # the response model, though the body is served raw


async def test_public_reads_need_no_token_and_writes_name_the_oauth2_scheme(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    for method, path, _ in OPERATIONS:
        security = schema["paths"][path][method].get("security")
        assert security == ([{"OAuth2": []}] if method != "get" else None), (method, path)
    flows = schema["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows == {
        "password": {"scopes": {}, "tokenUrl": "/api/v1/auth/token"},
        "clientCredentials": {"scopes": {}, "tokenUrl": "/api/v1/auth/token"},
    }


async def test_an_alert_patch_offers_no_null_the_service_refuses(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    patch = schema["components"]["schemas"]["AlertUpdate"]["properties"]
    for field in ("message", "severity", "cause", "effect"):
        assert patch[field]["type"] == "string", field
        assert "anyOf" not in patch[field], field
    refused = await client.patch("/api/v1/alerts/1", json={"cause": None})
    assert refused.status_code == 422
    assert refused.json()["fields"][0]["field"] == "cause"
    # active_until may be null: it means "until resolved".
    assert {"type": "null"} in patch["active_until"]["anyOf"]


async def test_headway_times_are_a_pattern_not_an_offsetless_format_time(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    headway = schema["components"]["schemas"]["HeadwayOut"]["properties"]
    for field in ("start", "end"):
        assert "format" not in headway[field]
        assert headway[field]["pattern"].startswith("^([01][0-9]|2[0-3]):")
