"""The HTTP side of a database that went away: reads retried once, the 503 documented.

A read (GET, HEAD) has no side effect, so one that failed because its connection was lost
(db_failures.connection_lost: a restart or failover killed it between checkout and query)
runs again on a fresh connection — the failure invalidated the dead one and its pool
generation — before the client is told 503. A write is never repeated here: its outcome
may be unknown, and only the client's retry with the same Idempotency-Key or tap_id can
apply it at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from travel_recharge.kit.db import DATABASE_DEPENDENCIES
from travel_recharge.kit.db_failures import connection_lost
from travel_recharge.kit.errors import DatabaseUnavailable, error_responses
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.routing import leaf_routes

logger = logging.getLogger("travel_recharge.db")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

READ_METHODS = frozenset({"GET", "HEAD"})
# FastAPI keeps the exit stack of function-scoped dependencies (the request's session) here.
_FUNCTION_STACK = "fastapi_function_astack"


def retry_reads_once(handler: Handler) -> Handler:
    """`handler`, run a second time for a read whose database connection was lost."""

    async def retrying(request: Request) -> Response:
        if request.method not in READ_METHODS:
            return await handler(request)
        try:
            return await _first_attempt(handler, request)
        except Exception as exc:
            if not connection_lost(exc):
                raise
            log_event(
                logger, "database.read_retried", path=request.url.path, error=type(exc).__name__
            )
        return await handler(request)

    return retrying


async def _first_attempt(handler: Handler, request: Request) -> Response:
    # The first attempt's dependencies get a stack of their own, closed (with the failure,
    # so each cleans up as after any failure) before the second attempt opens new ones.
    scope = request.scope
    outer = scope.get(_FUNCTION_STACK)
    async with AsyncExitStack() as stack:
        scope[_FUNCTION_STACK] = stack
        try:
            return await handler(request)
        finally:
            scope[_FUNCTION_STACK] = outer


def document_database_unavailable(app: FastAPI) -> None:
    """List the 503 of DatabaseUnavailable in the `responses=` of every route that uses the
    database (a dependency registered with kit.db.uses_database), beside its own errors."""
    for route, _, _ in leaf_routes(app.router.routes):
        if isinstance(route, APIRoute) and _uses_database(route.dependant):
            route.responses = {**error_responses(DatabaseUnavailable), **route.responses}


def _uses_database(dependant: Dependant) -> bool:
    return any(call in DATABASE_DEPENDENCIES for call in _calls(dependant))


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)
