"""Direct routes: the hot writes answered without FastAPI's routing and dependency solving.

A tap spent about a third of its worker CPU in routing over ~150 routes and solving the
route's dependencies (access rule, caller, principal, body, transaction, cache, settings).
A direct route does the same work by calling the same code itself: its handler (a
feature's `direct.py`) admits the caller by the route's own access rule, validates the body
with the route's own model, and runs the route's own answer function in the same driver
transaction (kit.db.driver_transaction: commit, then the after-commit hooks).

Each direct route stands beside an ordinary route with the same method and path, which
stays the route of the API document and answers every request the handler declines. A
handler declines (returns None) only before it has done anything the route would do again:
a caller it does not admit as a plain role holder, a body that is not clean JSON its model
accepts, a request the service sent to itself. The route then answers as it always did,
with its 401, 403 or 422 in the usual shape. Once a handler has counted the request in the
rate limits it answers whatever happens, a failure too (kit.errors renders it as the
exception handlers do), so nothing is counted or done twice.

The edge outside still gives every answer its request id, security headers and body limit,
and the metrics see the route's template (routing keys are written into the scope).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.errors import failure_response
from travel_recharge.kit.hardening import strict_json_loads
from travel_recharge.kit.metrics import HTTP_DIRECT
from travel_recharge.kit.routing import leaf_routes, route_path
from travel_recharge.kit.storable_text import is_json, json_problems

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class DirectCall:
    """One request to a direct route: its scope, its whole body and the app's state."""

    scope: Scope
    body: bytes
    state: State

    def header(self, name: bytes) -> bytes | None:
        """The header's value; None when it is absent or sent more than once (then the
        route's own parsing decides what a repeated header means)."""
        found = None
        for key, value in self.scope["headers"]:
            if key == name:
                if found is not None:
                    return None
                found = value
        return found

    def model(self, model: type[M]) -> M | None:
        """The body as `model`, as the route would validate it; None when the route would
        refuse it (not JSON by its content type, not strict JSON, text PostgreSQL cannot
        store, or invalid for the model): the route answers with its own 422 then."""
        content_type = self.header(b"content-type")
        if content_type is None or not is_json(content_type.decode("latin-1")):
            return None
        try:
            document = strict_json_loads(self.body)
        except ValueError:
            return None
        if next(json_problems(document), None) is not None:
            return None
        try:
            return model.model_validate(document)
        except ValidationError:
            return None


DirectHandler = Callable[[DirectCall], Awaitable[Response | None]]


@dataclass(frozen=True)
class DirectRoute:
    handler: DirectHandler
    # What routing would have written into the scope (the metrics read the template).
    routing: Mapping[str, Any]


def direct_routes(
    routes: Sequence[BaseRoute], handlers: Mapping[tuple[str, str], DirectHandler]
) -> dict[tuple[str, str], DirectRoute]:
    """Each handler beside the route it stands for; a handler with no such route (a path
    renamed on one side only) stops the app's creation."""
    found: dict[tuple[str, str], DirectRoute] = {}
    for route, prefix, _ in leaf_routes(routes):
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods or ():
            key = (method, prefix + route.path)
            handler = handlers.get(key)
            if handler is not None:
                routing = {"route": route, "endpoint": route.endpoint, "path_params": {}}
                found[key] = DirectRoute(handler, routing)
    missing = sorted(f"{method} {path}" for method, path in handlers.keys() - found.keys())
    if missing:
        raise RuntimeError(f"direct handlers without a route of their own: {missing}")
    return found


class DirectRoutes:
    """The ASGI layer that hands a request to its direct route, or on to the app."""

    def __init__(self, app: ASGIApp, *, routes: Mapping[tuple[str, str], DirectRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = (
            self.routes.get((scope["method"], route_path(scope)))
            if scope["type"] == "http"
            else None
        )
        if direct is None:
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the client left before it finished sending: nobody to answer
        call = DirectCall(scope, body, scope["app"].state)
        try:
            response = await direct.handler(call)
        except Exception as exc:
            response = failure_response(exc, scope["method"], scope["path"], call.state.settings)
        if response is None:
            await self.app(scope, _replaying(body, receive), send)
            return
        scope.update(direct.routing)
        await response(scope, receive, send)
        HTTP_DIRECT.inc()


async def _whole_body(receive: Receive) -> bytes | None:
    # The edge outside counts these bytes against the body limit: past it, receive raises
    # and the edge answers 413.
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the route the body already read, then the client's own."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
