"""Walking the app's route table, through included routers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi.params import Depends
from starlette.routing import BaseRoute


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
