"""The network endpoints document themselves: descriptions, error statuses, revalidation."""

from __future__ import annotations

import httpx
import pytest

# (method, path, statuses the operation documents besides its success).
OPERATIONS = [
    ("get", "/api/v1/stations", {"304", "422"}),
    ("get", "/api/v1/stations/identifiers", {"304"}),
    ("get", "/api/v1/stations/{station_code}/details", {"304", "404", "422"}),
    ("get", "/api/v1/stations/{station_id}/arrivals", {"404", "422"}),
    ("get", "/api/v1/stations/{station_id}/alerts", {"404", "422"}),
    ("get", "/api/v1/routes/codes", {"304"}),
    ("get", "/api/v1/routes/{route_code}/details", {"304", "404", "422"}),
    ("get", "/api/v1/recharge-points", {"304", "422"}),
    ("post", "/api/v1/alerts", {"404", "422"}),
    ("patch", "/api/v1/alerts/{alert_id}", {"404", "409", "422"}),
    ("post", "/api/v1/alerts/{alert_id}/resolve", {"404", "409", "422"}),
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
