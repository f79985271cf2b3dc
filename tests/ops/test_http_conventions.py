"""Request ids, the error shape and the API documentation."""

from __future__ import annotations

import re

import httpx


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123.def"})
    assert response.headers["x-request-id"] == "abc-123.def"


async def test_request_id_is_generated_when_missing_or_unsafe(client: httpx.AsyncClient) -> None:
    generated = await client.get("/api/v1/health")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    forged = await client.get("/api/v1/health", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    injected = await client.get("/api/v1/health", headers={"X-Request-ID": "a b\tc"})
    assert injected.headers["x-request-id"] != "a b\tc"


async def test_unknown_path_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong_method = await client.delete("/api/v1/health")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"


async def test_a_405_allows_every_method_of_its_path(client: httpx.AsyncClient) -> None:
    """One path served by several functions: the Allow header names all their methods,
    as the document lists them (Starlette's own names the first function's only)."""
    schema = (await client.get("/openapi.json")).json()
    for path, expected in [
        ("/api/v1/auth/accounts", "GET, POST"),
        ("/api/v1/alerts/7", "PATCH"),
        ("/api/v1/cards/7/block", "POST"),
    ]:
        template = path.replace("/7", "/{alert_id}" if "alerts" in path else "/{card_id}")
        assert ", ".join(sorted(m.upper() for m in schema["paths"][template])) == expected
        for method in ("OPTIONS", "PUT"):
            refused = await client.request(method, path)
            assert refused.status_code == 405, (method, path)
            assert refused.headers["allow"] == expected, (method, path)
            assert refused.json()["error"] == "method_not_allowed"


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Travel Recharge"
    health = schema["paths"]["/api/v1/health"]["get"]
    assert health["description"].startswith("Overall status")
    assert "503" in health["responses"]
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
