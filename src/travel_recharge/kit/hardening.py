"""HTTP hardening: strict JSON bodies, text PostgreSQL can store, and CORS (the body limit
and the security headers are applied at the edge: kit/edge.py).

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
from starlette.middleware.cors import CORSMiddleware

from travel_recharge.kit.config import Settings
from travel_recharge.kit.db_http import retry_reads_once
from travel_recharge.kit.edge import EdgeMiddleware, Observe
from travel_recharge.kit.storable_text import TextGuard

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
    endpoint, so a float field cannot smuggle a non-number into validation or arithmetic;
    nor does any string PostgreSQL cannot store (storable_text), whichever field carries it.
    A read whose database connection was lost runs once more on a fresh one (db_http)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = retry_reads_once(super().get_route_handler())
        guard = TextGuard.of(self)

        async def strict_handler(request: Request) -> Response:
            strict = StrictJSONRequest(request.scope, request.receive)
            await guard.refuse_unstorable_text(strict)
            return await handler(strict)

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


def install_hardening(app: FastAPI, settings: Settings, observe: Observe | None = None) -> None:
    """Adds CORS (if configured) and, outermost, the edge: request id, body limit, security
    headers and `observe` (the metrics), so no other layer ever sees an oversized body and
    the latency observed covers every layer."""
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
    # Starlette runs the last added middleware first.
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        hsts=settings.env == "production",
        observe=observe,
    )
