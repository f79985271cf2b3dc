"""Expected failures and the one place that turns any failure into {"error", "detail"}."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from travel_recharge.kit.config import Settings
from travel_recharge.kit.db_failures import database_unavailable
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.routing import methods_at, route_path

logger = logging.getLogger("travel_recharge.errors")


class AppError(Exception):
    """An expected failure with its HTTP status and a stable machine-readable code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class Unauthorized(AppError):
    """No token, or one that is expired, tampered with or signed another way."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, detail: str) -> None:
        # RFC 6750 §3: a 401 names the scheme the client should use.
        super().__init__(detail, {"WWW-Authenticate": 'Bearer realm="travel-recharge"'})


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, {"Retry-After": str(retry_after_s)})


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PaymentRequired(AppError):
    status_code = 402
    code = "insufficient_balance"


class Unprocessable(AppError):
    status_code = 422
    code = "validation_error"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database did not answer, or a write's outcome is unknown: retry after Retry-After
    seconds with the same Idempotency-Key or tap_id (the write applies at most once)."""

    code = "database_unavailable"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "the database is not reachable or did not confirm the write; retry later "
            "(with the same Idempotency-Key or tap_id: a write applies at most once)",
            {"Retry-After": str(retry_after_s)},
        )


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def error_responses(*errors: int | type[AppError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route for the failures it can answer: statuses, or named
    errors (AppError subclasses), whose docstrings become the status' description."""
    described: dict[int, list[str]] = {}
    for error in errors:
        status = error if isinstance(error, int) else error.status_code
        reasons = described.setdefault(status, [])
        if not isinstance(error, int) and error.__doc__:
            reasons.append(f"{error.__name__}: {error.__doc__.strip().splitlines()[0]}")
    return {
        status: {
            "description": "; ".join(reasons) or "Error",
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status, reasons in sorted(described.items())
    }


def _field_path(loc: tuple[Any, ...]) -> str:
    # Drop the "body"/"query" prefix so the client reads the field name it sent.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def _field_problem(err: dict[str, Any]) -> dict[str, str]:
    if err.get("type") == "json_invalid":
        # FastAPI puts the character position where the field name would be.
        loc = err.get("loc", ())
        at = f" at character {loc[-1]}" if len(loc) > 1 else ""
        reason = (err.get("ctx") or {}).get("error", "")
        return {"field": "body", "problem": f"not valid JSON{at}: {reason}".rstrip(": ")}
    return {"field": _field_path(tuple(err.get("loc", ()))), "problem": str(err.get("msg", ""))}


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    fields = [_field_problem(err) for err in exc.errors()]
    detail = "; ".join(f"{f['field']}: {f['problem']}" for f in fields) or "invalid request"
    return detail, fields


def install_error_handlers(app: FastAPI) -> None:
    """One handler family: clients never see stack traces, SQL or driver messages."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return app_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail, fields = _validation_detail(exc)
        return JSONResponse(error_body("validation_error", detail, fields=fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = methods_at(request.app.router.routes, route_path(request.scope))
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )

    # The database's failures arrive as SQLAlchemy's wrappers (ORM sessions) or bare from
    # asyncpg (the tap and recharge path): the same test sorts both. The classes are named
    # so that they are answered here, not by the outermost middleware, which would re-raise.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.InternalClientError)
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        settings: Settings = request.app.state.settings
        return failure_response(exc, request.method, request.url.path, settings)


def app_error_response(exc: AppError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.detail), status_code=exc.status_code, headers=exc.headers
    )


def failure_response(exc: Exception, method: str, path: str, settings: Settings) -> JSONResponse:
    """The answer to any failure that is not a request's own mistake: 503 with Retry-After
    when the database is unavailable, else a logged 500 that says nothing of the cause."""
    if isinstance(exc, AppError):
        return app_error_response(exc)
    if database_unavailable(exc):
        log_event(
            logger,
            "database.unavailable",
            logging.WARNING,
            path=path,
            method=method,
            error=type(exc).__name__,
        )
        unavailable = DatabaseUnavailable(settings.db_unavailable_retry_after_s)
        return app_error_response(unavailable)
    fields = {"path": path, "error": type(exc).__name__}
    logger.exception("request.failed", extra={"fields": fields})
    return JSONResponse(
        error_body("internal_error", "the request could not be completed"), status_code=500
    )
