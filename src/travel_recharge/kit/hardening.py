"""HTTP hardening: body size limit, security headers, strict JSON bodies and CORS.

Everything here is pure ASGI (no BaseHTTPMiddleware): no per-request task, no buffering of
bodies the app streams, and the limit applies before the app sees a single oversized byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.config import Settings
from travel_recharge.kit.errors import error_body

# --- Body size limit -----------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


class _BodyTooLarge(Exception):
    """Raised from the wrapped receive so the app cannot read past the limit."""


class BodySizeLimitMiddleware:
    """Refuses bodies over max_body_bytes with 413, whether declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = _declared_length(scope)
        except ValueError:
            # An ambiguous length is how request smuggling starts: refuse rather than guess.
            detail = "content-length header: not a single non-negative integer"
            await JSONResponse(error_body("bad_request", detail), 400)(scope, receive, send)
            return
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                # Counted even when Content-Length was within the limit: the client may lie.
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # FastAPI turns any failure while reading the body into its own 400 (and other
                # handlers into a 500); that answer is dropped and replaced by the 413 below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # After the limit any failure is the refused read surfacing (possibly wrapped in
            # an ExceptionGroup); anything else still propagates.
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(scope, receive, send)
        # If the app had already started its response, a second start would break the
        # protocol: the response is simply cut short.

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body(
            "payload_too_large", f"request body: larger than {self.max_body_bytes} bytes"
        )
        await JSONResponse(body, status_code=413)(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, None when absent; ValueError when malformed or contradictory."""
    values = Headers(scope=scope).getlist("content-length")
    if not values:
        return None
    # int() would also take "+5", " 5", "1_0" and non-ASCII digits; HTTP allows only 1*DIGIT.
    if len(set(values)) != 1 or not _DIGITS.fullmatch(values[0]):
        raise ValueError("invalid content-length")
    return int(values[0])


# --- Security headers ----------------------------------------------------------------------

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
_HTML_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeadersMiddleware:
    """Adds nosniff everywhere, browser policies on HTML and HSTS when serving over TLS."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])  # optional in ASGI; MutableHeaders needs it
                headers = MutableHeaders(scope=message)
                # setdefault: a route that chose its own policy keeps it.
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if _is_html(headers.get("content-type")):
                    for name, value in _HTML_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip().lower() == "text/html"


# --- Strict JSON ---------------------------------------------------------------------------

# A bare NaN / Infinity / -Infinity outside a string; strings are matched first and skipped.
_NON_FINITE = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


class _NonFiniteConstant(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _refuse_constant(constant: str) -> NoReturn:
    raise _NonFiniteConstant(constant)


def strict_json_loads(body: bytes) -> Any:
    """json.loads without the NaN/Infinity extension Python accepts and RFC 8259 forbids,
    and with undecodable bytes reported as invalid JSON."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        # FastAPI would answer a 400 of its own; a body that is not text is invalid JSON (422).
        doc = body.decode("latin-1")
        raise json.JSONDecodeError(
            f"the body is not UTF-8 ({exc.reason})", doc, exc.start
        ) from None
    except _NonFiniteConstant as exc:
        # The hook is not told where it is; find the offending token for the error position.
        doc = body.decode(json.detect_encoding(body), errors="replace")
        position = next((m.start(1) for m in _NON_FINITE.finditer(doc) if m.group(1)), 0)
        message = f"{exc.constant} is not valid JSON (RFC 8259)"
        raise json.JSONDecodeError(message, doc, position) from None


class StrictJSONRequest(Request):
    """A Request whose json() refuses non-finite numbers (FastAPI answers them with 422)."""

    async def json(self) -> Any:
        # Same cache as starlette's Request.json, so the body is parsed once per request.
        if not hasattr(self, "_json"):
            self._json = strict_json_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Route class for APIRouter(route_class=...): bodies with NaN or Infinity never reach the
    endpoint, so a float field cannot smuggle a non-number into validation or arithmetic."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


# --- Installation --------------------------------------------------------------------------

CORS_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
)
CORS_EXPOSE_HEADERS = ("ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed")


def install_hardening(app: FastAPI, settings: Settings) -> None:
    """Adds CORS (if configured), security headers and the body limit (outermost)."""
    # Starlette runs the last added middleware first: the body limit is added last so no
    # other layer ever sees an oversized body. Its own 413/400 answers therefore pass through
    # neither the security headers nor CORS; they are short JSON errors.
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_ALLOW_HEADERS),
            expose_headers=list(CORS_EXPOSE_HEADERS),
            # Tokens travel in the Authorization header, never in cookies.
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.env == "production")
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
