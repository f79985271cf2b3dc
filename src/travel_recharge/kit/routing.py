"""Walking the app's route table, through included routers."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi.params import Depends
from starlette.routing import BaseRoute, compile_path
from starlette.types import Scope


def leaf_routes(
    routes: Sequence[BaseRoute], prefix: str = "", dependencies: Sequence[Depends] = ()
) -> Iterator[tuple[BaseRoute, str, list[Depends]]]:
    """Every route that answers requests, with the prefix and dependencies of the
    include_router calls above it.

    FastAPI ≥ 0.160 keeps an included router as one node (its routes are not copied into
    the app); the prefix and dependencies of the include_router call live in its include
    context, and the route it matches lands in scope["route"] without that prefix.
    """
    for route in routes:
        included: Any = getattr(route, "original_router", None)
        if included is None:
            yield route, prefix, list(dependencies)
            continue
        context: Any = getattr(route, "include_context")  # noqa: B009
        yield from leaf_routes(
            included.routes, prefix + context.prefix, [*dependencies, *context.dependencies]
        )


@functools.cache
def _path_regex(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def methods_at(routes: Sequence[BaseRoute], path: str) -> set[str]:
    """Every method some route answers at `path`: the Allow header of its 405.

    Starlette's 405 names the methods of the first route whose path matched, but one path
    can have several routes (GET and POST /api/v1/auth/accounts are two functions).
    """
    allowed: set[str] = set()
    for route, prefix, _ in leaf_routes(routes):
        methods = getattr(route, "methods", None)
        route_path = getattr(route, "path", None)
        if methods and isinstance(route_path, str) and _path_regex(prefix + route_path).match(path):
            allowed |= methods
    return allowed


def route_path(scope: Scope) -> str:
    """The path the routes match: without the prefix a proxy serves the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
