"""The service's edge: one pure ASGI layer for what every request needs before routing.

Request id, body size limit, security headers and the observation of each answer (metrics)
used to be four middlewares, each wrapping `send` (and some `receive`) again: one layer does
it with one wrapper per request. Pure ASGI (no BaseHTTPMiddleware): no per-request task, no
buffering of bodies the app streams, and the limit applies before the app sees a single
oversized byte.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.errors import error_body
from travel_recharge.kit.logs import request_id_var

# Called once per answered request: (scope after routing, status, seconds taken).
Observe = Callable[[Scope, int, float], None]

REQUEST_ID_HEADER = b"x-request-id"


class _RequestIds:
    """32 random hex digits per request without a system call: uuid4 read the kernel's
    random source for every request, ~5% of a cached read's worker CPU (py-spy). A request id
    only has to be unique (it authorizes nothing), so a per-process generator seeded from the
    kernel does, seeded again in a forked child so workers never share a sequence."""

    def __init__(self) -> None:
        self._seed()
        os.register_at_fork(after_in_child=self._seed)

    def _seed(self) -> None:
        self._bits = random.Random(os.urandom(32)).getrandbits

    def new(self) -> str:
        return f"{self._bits(128):032x}"


_new_request_id = _RequestIds().new
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DIGITS = re.compile(r"[0-9]+")
# nginx's code for a request the client abandoned before its answer started.
CLIENT_CLOSED = 499

# Every HTML page loads only our own files and runs no inline script or style, so a tag
# injected into one could do nothing. (The API documentation pages, which must start their
# bundles inline, set a policy of their own: web/docs.py.)
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
# Only documents rendered by a browser need these; JSON answers gain nothing from them.
_HTML_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode(), value.encode())
    for name, value in {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }.items()
)
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_HSTS = (b"strict-transport-security", HSTS.encode())


class _BodyTooLarge(Exception):
    """Raised from the wrapped receive so the app cannot read past the limit."""


class EdgeMiddleware:
    """Request id, body limit, security headers and the answer's observation, in one layer."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, hsts: bool, observe: Observe | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Prepared once: every answer gets these unless the route chose its own.
        self._always = (_NOSNIFF, _HSTS) if hsts else (_NOSNIFF,)
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or _new_request_id()
        token = request_id_var.set(request_id)
        exchange = _Exchange(self, request_id.encode(), receive, send)
        try:
            await exchange.run(scope)
        except asyncio.CancelledError:
            self._observe(scope, exchange.status or CLIENT_CLOSED, started)
            raise
        except BaseException:
            # The server's error handler, outside us, answers 500 unless an answer started.
            self._observe(scope, exchange.status or 500, started)
            raise
        finally:
            request_id_var.reset(token)
        self._observe(scope, exchange.status or 500, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        if self.observe is not None:
            self.observe(scope, status, time.perf_counter() - started)


class _Exchange:
    """One request's state at the edge: bytes received, whether the answer started."""

    def __init__(self, edge: EdgeMiddleware, request_id: bytes, receive: Receive, send: Send):
        self.edge = edge
        self.request_id = request_id
        self._receive = receive
        self._send = send
        self.received = 0
        self.exceeded = False
        self.status: int | None = None

    async def run(self, scope: Scope) -> None:
        limit = self.edge.max_body_bytes
        try:
            declared = _declared_length(scope)
        except ValueError:
            # An ambiguous length is how request smuggling starts: refuse rather than guess.
            detail = "content-length header: not a single non-negative integer"
            await self._answer(scope, 400, error_body("bad_request", detail))
            return
        if declared is not None and declared > limit:
            await self._too_large(scope)
            return
        try:
            await self.edge.app(scope, self.receive, self.send)
        except Exception:
            # After the limit any failure is the refused read surfacing (possibly wrapped in
            # an ExceptionGroup); anything else still propagates.
            if not self.exceeded:
                raise
        if self.exceeded and self.status is None:
            await self._too_large(scope)
        # If the app had already started its response, a second start would break the
        # protocol: the response is simply cut short.

    async def receive(self) -> Message:
        if self.exceeded:
            raise _BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            # Counted even when Content-Length was within the limit: the client may lie.
            self.received += len(message.get("body", b""))
            if self.received > self.edge.max_body_bytes:
                self.exceeded = True
                raise _BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self.exceeded:
                # FastAPI turns any failure while reading the body into its own 400 (and
                # other handlers into a 500); that answer is dropped and replaced by a 413.
                return
            self.status = int(message["status"])
            message["headers"] = self._with_edge_headers(message.get("headers", ()))
        elif self.exceeded and self.status is None:
            return
        await self._send(message)

    def _with_edge_headers(self, raw: object) -> list[tuple[bytes, bytes]]:
        headers = [h for h in raw if h[0].lower() != REQUEST_ID_HEADER]  # type: ignore[attr-defined]
        present = {name.lower() for name, _ in headers}
        headers.append((REQUEST_ID_HEADER, self.request_id))
        # Only where absent: a route that chose its own policy keeps it.
        headers += [pair for pair in self.edge._always if pair[0] not in present]
        if _is_html(headers):
            headers += [pair for pair in _HTML_HEADERS if pair[0] not in present]
        return headers

    async def _too_large(self, scope: Scope) -> None:
        limit = self.edge.max_body_bytes
        detail = f"request body: larger than {limit} bytes"
        await self._answer(scope, 413, error_body("payload_too_large", detail))

    async def _answer(self, scope: Scope, status: int, body: dict[str, str]) -> None:
        self.exceeded = False  # this answer is ours: let it through
        await JSONResponse(body, status_code=status)(scope, self._receive, self.send)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"text/html"
    return False


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            # An id that could forge log lines or bloat them is replaced, not echoed.
            return candidate if _SAFE_ID.match(candidate) else None
    return None


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, None when absent; ValueError when malformed or contradictory."""
    values = Headers(scope=scope).getlist("content-length")
    if not values:
        return None
    # int() would also take "+5", " 5", "1_0" and non-ASCII digits; HTTP allows only 1*DIGIT.
    if len(set(values)) != 1 or not _DIGITS.fullmatch(values[0]):
        raise ValueError("invalid content-length")
    return int(values[0])
