"""The replay layer: pure ASGI, just outside the routes (see kit.replay)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.cache.together import ScriptCall
from travel_recharge.kit.metrics import HTTP_REPLAYED
from travel_recharge.kit.replay.learned import (
    LearnedAnswer,
    LearnedAnswers,
    LearnedTemplates,
    RequestKey,
    learn,
)
from travel_recharge.kit.replay.record import mark_admitted, recording, stop_recording
from travel_recharge.kit.replay.templates import template_of

# Requests of a few hundred callers and paths; a learned answer weighs about a kilobyte.
CAPACITY = 2_048


@dataclass(frozen=True)
class Charge:
    """The rate limit a replayed request counts in: its script (None when its route's group
    has no limit) and how to read the script's result (True: admitted)."""

    call: ScriptCall | None
    admits: Callable[[object], bool]


class Gate(Protocol):
    """Who may have a learned answer replayed: the access rules' side (security.edge_gate)."""

    def charge(self, scope: Scope, authorization: bytes | None, admission: object) -> Charge | None:
        """The request's rate limit if its caller is admitted as the route would admit them;
        None when only the route may decide (no valid token, a role the rule does not name)."""
        ...


@dataclass(frozen=True)
class _Request:
    key: RequestKey
    authorization: bytes | None
    if_none_match: bytes | None


class ReplayLayer:
    def __init__(self, app: ASGIApp, *, lifetime_s: float) -> None:
        self.app = app
        self.lifetime_s = lifetime_s
        self.learned = LearnedAnswers(CAPACITY)
        self.templates = LearnedTemplates(CAPACITY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _replayable(scope) if self.lifetime_s > 0 else None
        state = getattr(scope.get("app"), "state", None)
        cache: Cache | None = getattr(state, "cache", None)
        gate: Gate | None = getattr(state, "edge_gate", None)
        if request is None or cache is None or gate is None:
            await self.app(scope, receive, send)
            return
        answer = self.learned.get(request.key) or self.templates.get(request.key)
        if answer is None:
            await self._learn(request, scope, receive, send)
        elif not await self._replay(answer, request, scope, send, cache, gate):
            await self.app(scope, receive, send)

    async def _replay(
        self,
        answer: LearnedAnswer,
        request: _Request,
        scope: Scope,
        send: Send,
        cache: Cache,
        gate: Gate,
    ) -> bool:
        charge = gate.charge(scope, request.authorization, answer.admission)
        peek = cache.peek(answer.group, answer.field)
        if charge is None or peek is None:
            return False
        calls = [peek] if charge.call is None else [peek, charge.call]
        try:
            results = await cache.together(calls)
        except CacheUnavailable:
            return False  # the route reads PostgreSQL and decides the limit (fail open)
        if charge.call is not None:
            if not charge.admits(results[1]):
                return False  # refused: a refusal counts nowhere, the route refuses it again
            mark_admitted(scope)
        payload = results[0]
        if not isinstance(payload, bytes):
            return False  # not fresh in Redis: the route's read-through decides
        cache.count_hit(answer.group)
        scope.update(answer.routing)
        status, headers, body = answer.answer(payload, request.if_none_match)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        HTTP_REPLAYED.inc()
        return True

    async def _learn(self, request: _Request, scope: Scope, receive: Receive, send: Send) -> None:
        record, token = recording()
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        body: bytes | None = None

        async def capture(message: Message) -> None:
            nonlocal status, headers, body
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                # One body message is a whole answer; a streamed one is not a view's.
                whole = body is None and not message.get("more_body", False)
                body = message.get("body", b"") if whole else None
                if not whole:
                    status = None
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            stop_recording(token)
        learned = learn(record, scope, status, headers, body, self.lifetime_s)
        if learned is None:
            return
        self.learned.put(request.key, learned)
        params = scope.get("path_params")
        if params and all(isinstance(value, str) for value in params.values()):
            template = template_of(request.key[0], params, learned.group, learned.field)
            if template is not None:
                self.templates.learn(request.key, template, params, learned)


def _replayable(scope: Scope) -> _Request | None:
    """The parts of a GET that choose its answer; None for any other request, and for a GET
    that carries a body (the route decides what to make of it)."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    authorization = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None  # two credentials: the route's own parsing decides
            authorization = value
        elif name == b"if-none-match":
            if_none_match = value
        elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return None
    key = (scope["path"], scope.get("query_string", b""), authorization)
    return _Request(key, authorization, if_none_match)
