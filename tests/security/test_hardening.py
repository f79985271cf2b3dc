"""Hardening: body size limit, security headers, strict JSON and CORS, on small in-test apps.

The apps are built here (not with create_app) so these tests need no database or Redis and
exercise exactly the hardening layer plus the project's error format.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from travel_recharge.kit.config import Settings
from travel_recharge.kit.errors import install_error_handlers
from travel_recharge.kit.hardening import (
    BodySizeLimitMiddleware,
    StrictJSONRequest,
    StrictJSONRoute,
    install_hardening,
    strict_json_loads,
)
from travel_recharge.web.docs import DOCS_POLICY

LIMIT = 1024  # the smallest limit Settings accepts
ALLOWED_ORIGIN = "https://wallet.example"
HTML_ONLY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
)


class Fare(BaseModel):
    count: int
    ratio: float
    note: str = ""


@dataclass
class Harness:
    app: FastAPI
    calls: list[Fare] = field(default_factory=list)


def make_settings(**values: Any) -> Settings:
    return Settings.model_validate({"env": "test", "max_body_bytes": LIMIT, **values})


def build_app(
    settings: Settings | None = None, route_class: type[APIRoute] = StrictJSONRoute
) -> Harness:
    app = FastAPI()
    install_error_handlers(app)
    harness = Harness(app)
    router = APIRouter(route_class=route_class)

    @router.post("/fares")
    async def echo_fare(fare: Fare) -> dict[str, Any]:
        harness.calls.append(fare)
        # Not fare.model_dump(): the control test sends NaN, which JSON cannot carry back.
        return {"count": fare.count, "ratio": repr(fare.ratio), "note": fare.note}

    @router.get("/fares")
    async def list_fares() -> dict[str, int]:
        return {"calls": len(harness.calls)}

    @router.get("/page", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse("<h1>dashboard</h1>")

    @router.get("/framed", response_class=HTMLResponse)
    async def framed() -> HTMLResponse:
        return HTMLResponse(
            "<h1>embeddable</h1>",
            headers={
                "X-Frame-Options": "SAMEORIGIN",
                "Content-Security-Policy": "default-src 'none'",
            },
        )

    app.include_router(router)
    install_hardening(app, settings or make_settings())
    return harness


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def fare_body(size: int) -> bytes:
    """A valid Fare document of exactly `size` bytes (padded through the note)."""
    empty = json.dumps({"count": 3, "ratio": 0.25, "note": ""}).encode()
    body = json.dumps({"count": 3, "ratio": 0.25, "note": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


async def chunks(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


JSON = {"content-type": "application/json"}

# --- Body size limit -----------------------------------------------------------------------


async def test_body_exactly_at_the_limit_is_accepted_and_echoed() -> None:
    harness = build_app()
    body = fare_body(LIMIT)
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=body, headers=JSON)
    assert response.request.headers["content-length"] == str(LIMIT)
    assert response.status_code == 200
    assert response.json() == {"count": 3, "ratio": "0.25", "note": json.loads(body)["note"]}
    assert len(harness.calls) == 1


async def test_streamed_body_exactly_at_the_limit_is_accepted() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=chunks(fare_body(LIMIT)), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert len(harness.calls) == 1


async def test_declared_length_over_the_limit_is_refused_before_the_endpoint() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=fare_body(LIMIT + 1), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "detail": f"request body: larger than {LIMIT} bytes",
    }
    assert harness.calls == []


async def test_declared_length_over_the_limit_is_answered_without_reading_or_calling() -> None:
    app_calls: list[Scope] = []
    reads: list[str] = []
    sent: list[Message] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        app_calls.append(scope)

    async def receive() -> Message:
        reads.append("read")
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", str(LIMIT + 1).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodySizeLimitMiddleware(inner, max_body_bytes=LIMIT)(scope, receive, send)

    assert (app_calls, reads) == ([], [])
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["error"] == "payload_too_large"


async def test_chunked_body_over_the_limit_is_refused_without_content_length() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=chunks(fare_body(LIMIT + 500)), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert harness.calls == []


async def test_body_larger_than_its_declared_length_is_still_cut_at_the_limit() -> None:
    harness = build_app()
    headers = {**JSON, "content-length": "40"}  # a lie: the stream carries far more
    async with client_for(harness.app) as client:
        response = await client.post(
            "/fares", content=chunks(fare_body(3 * LIMIT)), headers=headers
        )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert harness.calls == []


@pytest.mark.parametrize("declared", ["abc", "-1", "+5", " 5", "1_0", "5, 6"])
async def test_invalid_content_length_is_a_bad_request(declared: str) -> None:
    harness = build_app()
    headers = {**JSON, "content-length": declared}
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=fare_body(100), headers=headers)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "bad_request"
    assert "content-length" in payload["detail"]
    assert harness.calls == []


async def test_a_started_response_never_gets_a_second_start() -> None:
    # A raw app that answers first and reads the (oversized) body afterwards.
    read: list[bytes] = []

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        while True:
            message = await receive()
            read.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.body", "body": b"done"})

    incoming = [
        {"type": "http.request", "body": b"a" * 600, "more_body": True},
        {"type": "http.request", "body": b"b" * 600, "more_body": True},
        {"type": "http.request", "body": b"c", "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimitMiddleware(streaming_app, max_body_bytes=LIMIT)(scope, receive, send)

    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [200]
    assert read == [b"a" * 600]  # the chunk that crossed the limit never reached the app
    assert [m.get("body") for m in sent if m["type"] == "http.response.body"] == [b"partial"]


# --- Strict JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_a_validation_error(constant: str) -> None:
    harness = build_app()
    body = f'{{"count": 1, "ratio": {constant}}}'.encode()
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=body, headers=JSON)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "validation_error"
    [field] = payload["fields"]
    assert field["field"] == "body"
    assert field["problem"].startswith("not valid JSON at character 22: ")
    assert constant.lstrip("-") in field["problem"]
    assert harness.calls == []


async def test_nested_nan_inside_a_list_is_rejected() -> None:
    harness = build_app()
    body = b'{"count": 1, "ratio": 0.5, "history": [1.5, [2.0, NaN]]}'
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert harness.calls == []


@pytest.mark.parametrize("body", [b"\xff", b'{"count": 1, "ratio": "\xc3\x28"}'])
async def test_a_body_that_is_not_utf8_is_a_validation_error(body: bytes) -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=body, headers=JSON)
    assert response.status_code == 422
    [field] = response.json()["fields"]
    assert field["field"] == "body"
    assert "the body is not UTF-8" in field["problem"]
    assert harness.calls == []


async def test_finite_float_and_the_word_nan_inside_a_string_are_accepted() -> None:
    harness = build_app()
    body = b'{"count": 2, "ratio": 1.5e3, "note": "NaN Infinity"}'
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"count": 2, "ratio": "1500.0", "note": "NaN Infinity"}
    assert [(c.count, c.ratio) for c in harness.calls] == [(2, 1500.0)]


async def test_without_the_strict_route_nan_would_reach_the_endpoint() -> None:
    # The control: proves the rejections above come from StrictJSONRoute, not from pydantic.
    harness = build_app(route_class=APIRoute)
    async with client_for(harness.app) as client:
        response = await client.post("/fares", content=b'{"count": 1, "ratio": NaN}', headers=JSON)
    assert response.status_code == 200
    assert len(harness.calls) == 1
    assert math.isnan(harness.calls[0].ratio)


def test_strict_loads_reports_the_constant_and_its_position() -> None:
    doc = b'{"note": "NaN", "ratio": -Infinity}'
    with pytest.raises(json.JSONDecodeError) as caught:
        strict_json_loads(doc)
    assert caught.value.msg == "-Infinity is not valid JSON (RFC 8259)"
    assert caught.value.pos == doc.index(b"-Infinity")


async def test_strict_request_parses_the_body_once() -> None:
    messages = [{"type": "http.request", "body": b'{"a": [1, 2.5]}', "more_body": False}]

    async def receive() -> Message:
        return messages.pop(0)

    request = StrictJSONRequest({"type": "http", "method": "POST", "headers": []}, receive)
    first = await request.json()
    second = await request.json()
    assert first == {"a": [1, 2.5]}
    assert second is first


# --- Security headers ----------------------------------------------------------------------


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


async def test_html_responses_get_the_browser_policies() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.get("/page")
    assert response.status_code == 200
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["permissions-policy"] == "camera=(), microphone=(), geolocation=()"
    csp = csp_directives(headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert csp[directive] == ["'self'"]  # no inline code, no other origin
    assert set(csp["img-src"]) == {"'self'", "data:"}
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert "strict-transport-security" not in headers


async def test_json_responses_get_only_nosniff() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.get("/fares")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert [h for h in HTML_ONLY_HEADERS if h in response.headers] == []
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_docs_pages_load_only_our_own_copies_of_their_bundles(
    app: FastAPI, path: str
) -> None:
    async with client_for(app) as client:
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == DOCS_POLICY
        # Nothing from another origin (no CDN, no web fonts): the docs work offline.
        assert "https://" not in response.text.replace("https://swagger.io", "")
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', response.text):
            assert url.startswith("/static/"), url
            assert (await client.get(url)).status_code == 200, url


async def test_hsts_only_in_production() -> None:
    production = build_app(make_settings(env="production"))
    async with client_for(production.app) as client:
        json_response = await client.get("/fares")
        html_response = await client.get("/page")
    hsts = "max-age=31536000; includeSubDomains"
    assert json_response.headers["strict-transport-security"] == hsts
    assert html_response.headers["strict-transport-security"] == hsts

    for env in ("test", "development"):
        other = build_app(make_settings(env=env))
        async with client_for(other.app) as client:
            response = await client.get("/fares")
        assert "strict-transport-security" not in response.headers


async def test_headers_set_by_the_app_are_not_overwritten() -> None:
    harness = build_app()
    async with client_for(harness.app) as client:
        response = await client.get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]
    # The headers the app did not set are still added.
    assert response.headers["referrer-policy"] == "no-referrer"


# --- CORS ----------------------------------------------------------------------------------


def header_set(response: httpx.Response, name: str) -> set[str]:
    """A comma-separated header as a set of lower-case items."""
    return {item.strip().lower() for item in response.headers[name].split(",")}


async def test_allowed_origin_gets_cors_headers_on_a_simple_request() -> None:
    harness = build_app(make_settings(cors_allow_origins=[ALLOWED_ORIGIN]))
    async with client_for(harness.app) as client:
        response = await client.get("/fares", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = header_set(response, "access-control-expose-headers")
    assert exposed == {"etag", "retry-after", "x-request-id", "idempotent-replayed"}
    assert "access-control-allow-credentials" not in response.headers


async def test_allowed_origin_passes_the_preflight() -> None:
    harness = build_app(make_settings(cors_allow_origins=[ALLOWED_ORIGIN]))
    preflight = {
        "Origin": ALLOWED_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
    }
    async with client_for(harness.app) as client:
        response = await client.options("/fares", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    methods = header_set(response, "access-control-allow-methods")
    assert methods == {"get", "post", "patch", "delete", "options"}
    allowed = header_set(response, "access-control-allow-headers")
    assert {"authorization", "idempotency-key", "content-type", "if-none-match"} <= allowed
    assert response.headers["access-control-max-age"] == "600"


async def test_unlisted_origin_gets_no_cors_grant() -> None:
    harness = build_app(make_settings(cors_allow_origins=[ALLOWED_ORIGIN]))
    other = "https://evil.example"
    async with client_for(harness.app) as client:
        simple = await client.get("/fares", headers={"Origin": other})
        preflight = await client.options(
            "/fares", headers={"Origin": other, "Access-Control-Request-Method": "POST"}
        )
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_empty_allow_list_means_no_cors_at_all() -> None:
    harness = build_app(make_settings(cors_allow_origins=[]))
    async with client_for(harness.app) as client:
        simple = await client.get("/fares", headers={"Origin": ALLOWED_ORIGIN})
        preflight = await client.options(
            "/fares", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
    assert simple.status_code == 200
    assert [h for h in simple.headers if h.startswith("access-control-")] == []
    # Without CORS the OPTIONS request reaches the router, which has no such method.
    assert preflight.status_code == 405
    assert [h for h in preflight.headers if h.startswith("access-control-")] == []
