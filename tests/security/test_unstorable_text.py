"""Text PostgreSQL cannot store (NUL, unpaired surrogates) is a 422 naming the field.

Each of these used to reach the database driver and answer 500 with a long traceback in the
log, the token endpoint's without any authentication (security issue #18, finding 5).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.conftest import client_for, count_rows
from tests.money import new_card
from travel_recharge.kit.storable_text import NUL, SURROGATE, json_problems, text_problem
from travel_recharge.security import public
from travel_recharge.security.routes import UncheckedInput, secure_routes

TOKEN = "/api/v1/auth/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def assert_refused(response: httpx.Response, field: str, problem: str = NUL) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert {"field": field, "problem": problem} in body["fields"]
    assert f"{field}: {problem}" in body["detail"]


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The refusals are answers, not failures: nothing is logged as an error."""
    with caplog.at_level(logging.INFO):
        yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.usefixtures("no_server_errors")
async def test_a_nul_in_a_username_is_refused_without_authentication(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        response = await anonymous.post(
            TOKEN, content=b"grant_type=password&username=demo%00admin&password=x", headers=FORM
        )
    assert_refused(response, "username")


@pytest.mark.usefixtures("no_server_errors")
@pytest.mark.parametrize("field", ["client_id", "client_secret"])
async def test_a_nul_in_client_credentials_is_refused(app: FastAPI, field: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "validator-1", "client_secret": "s"}
    async with client_for(app) as anonymous:
        response = await anonymous.post(TOKEN, data={**form, field: "val\x00idator"})
    assert_refused(response, field)


@pytest.mark.usefixtures("no_server_errors")
@pytest.mark.parametrize("credentials", [b"validator\x00-1:secret", b"validator%00-1:secret"])
async def test_a_nul_in_http_basic_credentials_is_refused(app: FastAPI, credentials: bytes) -> None:
    basic = {"Authorization": f"Basic {base64.b64encode(credentials).decode()}"}
    async with client_for(app) as anonymous:
        response = await anonymous.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers=basic
        )
    assert_refused(response, "Authorization")


@pytest.mark.usefixtures("no_server_errors")
@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (b'{"reason": "\\u0000"}', "reason", NUL),
        (b'{"reason": "lost\\u0000"}', "reason", NUL),
        (b'{"reason": "\\ud800"}', "reason", SURROGATE),
        (b'{"reason": "lost \\udfff card"}', "reason", SURROGATE),
        # A key is refused without being echoed: the answer names where it is.
        (b'{"reason": "lost", "\\u0000": 1}', "request", f"has a key that {NUL}"),
    ],
)
async def test_unstorable_text_in_a_json_body_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, clean: None, body: bytes, field: str, problem: str
) -> None:
    card_id = await new_card(client)
    response = await client.post(f"/api/v1/cards/{card_id}/block", content=body, headers=JSON)
    assert_refused(response, field, problem)
    balance = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert balance.json()["status"] == "active"


@pytest.mark.usefixtures("no_server_errors")
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/stations?locality=%00", "locality"),
        ("/api/v1/stations?limit=10&kind=trunk%00", "kind"),
        ("/api/v1/stations?undeclared=%00", "undeclared"),
        ("/api/v1/stations/%00/details", "station_code"),
        ("/api/v1/routes/B74%00/details", "route_code"),
        ("/api/v1/auth/accounts/demo%00admin/deactivate", "login"),
    ],
)
async def test_a_nul_in_the_query_or_the_path_is_refused(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    method = "POST" if path.endswith("/deactivate") else "GET"
    assert_refused(await client.request(method, path), field)


@pytest.mark.usefixtures("no_server_errors")
async def test_a_nul_in_a_query_parameter_name_is_refused_without_echoing_the_name(
    client: httpx.AsyncClient,
) -> None:
    # Found by the schema fuzzer: the name was echoed into the answer, NUL and all.
    response = await client.get("/api/v1/finance/revenue?y%00z=1&include_simulated=true")
    assert_refused(response, "request", f"has a query parameter name that {NUL}")
    assert "\x00" not in response.text
    assert "\\u0000" not in response.text


@pytest.mark.usefixtures("no_server_errors")
async def test_a_nul_in_an_alert_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, clean: None
) -> None:
    alert = {"severity": "info", "cause": "OTHER_CAUSE", "effect": "OTHER_EFFECT"}
    response = await client.post("/api/v1/alerts", json={**alert, "message": "cerrada\x00"})
    assert_refused(response, "message")
    assert await count_rows(app, "alerts") == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", None),
        ("Portal Norte - Calle 72 ñ 🚇", None),
        ("'; DROP TABLE cards; --", None),
        ("\\x00 %00 \\u0000", None),  # only the character itself is refused
        ("\x00", NUL),
        ("a\x00", NUL),
        ("\ud800", SURROGATE),
        ("ok \udbff\udfff ok", SURROGATE),  # a pair of surrogates in a str is still two
    ],
)
def test_text_problem(text: str, problem: str | None) -> None:
    assert text_problem(text) == problem


def test_json_problems_are_found_at_any_depth_with_their_location() -> None:
    document: Any = {"a": [1, {"b": "x\x00"}], "c": "fine", "d": {"e": ["\ud800"]}}
    nested: Any = "\x00"
    for _ in range(5_000):  # deeper than the recursion limit
        nested = [nested]
    found = dict(json_problems(document))
    assert found == {("body", "a", 1, "b"): NUL, ("body", "d", "e", 0): SURROGATE}
    assert list(json_problems(nested)) == [(("body", *[0] * 5_000), NUL)]


# --- Every text input of the API -----------------------------------------------------------


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_text(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    options = schema.get("anyOf", [schema])
    return any(_resolve(document, option).get("type") == "string" for option in options)


def _text_inputs(document: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(method, path, where, name) of every string an operation takes."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if _is_text(document, parameter["schema"]):
                    yield method.upper(), path, parameter["in"], parameter["name"]
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                body = _resolve(document, content["schema"])
                for name, schema in body.get("properties", {}).items():
                    if _is_text(document, schema):
                        yield method.upper(), path, media, name


def _request(
    document: dict[str, Any], method: str, path: str, where: str, name: str, value: str
) -> dict[str, Any]:
    operation = document["paths"][path][method.lower()]
    filled = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            text = _is_text(document, parameter["schema"])
            filled[parameter["name"]] = "x" if text else "1"
    if where == "path":
        filled[name] = quote(value, safe="")
    request: dict[str, Any] = {"method": method, "url": path.format(**filled)}
    if where == "query":
        request["params"] = {name: value}
    elif where == "header":
        request["headers"] = {name: value}
    elif where == "application/json":
        request["content"] = json.dumps({name: value}).encode()
        request["headers"] = JSON
    elif where != "path":
        request["data"] = {name: value}
    return request


async def test_every_text_input_of_the_api_refuses_unstorable_text(
    app: FastAPI, client: httpx.AsyncClient, clean: None
) -> None:
    """Each string parameter and body field of every operation in the OpenAPI document, sent
    a NUL (and in JSON an unpaired surrogate), is a 422 naming it: a new endpoint is covered
    without anyone remembering to add it here."""
    document = app.openapi()
    inputs = list(_text_inputs(document))
    assert len(inputs) > 40  # the walk found the API's inputs
    assert ("POST", TOKEN, "application/x-www-form-urlencoded", "username") in inputs
    wrong: list[str] = []
    for method, path, where, name in inputs:
        values = [("\x00", NUL), ("ok\x00", NUL)]
        if where == "application/json":
            values.append(("\udc80", SURROGATE))
        for value, problem in values:
            if where == "header":
                continue  # httpx cannot send a NUL in a header: see the raw ASGI test below
            request = _request(document, method, path, where, name, value)
            response = await client.request(**request)
            body = response.json()
            if response.status_code != 422 or {"field": name, "problem": problem} not in body.get(
                "fields", []
            ):
                wrong.append(f"{method} {path} {where} {name}: {response.status_code} {body}")
    assert wrong == []


async def test_a_nul_in_a_declared_header_is_refused(app: FastAPI) -> None:
    """Sent as raw ASGI: HTTP clients (and servers) refuse a NUL in a header themselves."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/cards/recharge",
        "raw_path": b"/api/v1/cards/recharge",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"idempotency-key", b"k\x00")],
        "client": ("10.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    body = json.dumps({"card_id": 1, "amount": 1000, "recharge_point_id": 1}).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 422
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert {"field": "Idempotency-Key", "problem": NUL} in answer["fields"]


def test_a_route_taking_input_without_the_strict_route_stops_the_app_from_starting() -> None:
    bare = FastAPI()
    router = APIRouter(dependencies=[public("reference")])  # the default route class

    @router.get("/api/v1/unchecked")
    async def unchecked(name: str) -> dict[str, str]:
        return {"name": name}

    bare.include_router(router)
    with pytest.raises(UncheckedInput, match="GET /api/v1/unchecked takes input but is not a "):
        secure_routes(bare, limited_groups=[])
