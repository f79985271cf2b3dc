"""Expected failures and the one place that turns any failure into {"error", "detail"}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from travel_recharge.kit.logs import log_event

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


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route for the error statuses it can answer."""
    return {
        status: {
            "description": "Error",
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
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
        return JSONResponse(
            error_body(exc.code, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail, fields = _validation_detail(exc)
        return JSONResponse(error_body("validation_error", detail, fields=fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(OSError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log_event(logger, "database.unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse(
            error_body("database_unavailable", "the database is not reachable; retry later"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception(
            "request.failed",
            extra={"fields": {"path": request.url.path, "error": type(exc).__name__}},
        )
        return JSONResponse(
            error_body("internal_error", "the request could not be completed"),
            status_code=500,
        )
