"""The route template of a request: the label its metrics carry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Scope

# Requests no route matched (404 probes, CORS preflights, refused bodies) share one label,
# so a scanner walking random paths cannot create a series per path.
UNMATCHED = "unmatched"


def _templates(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[BaseRoute, str]]:
    """Every route with its full path template, through included routers.

    FastAPI ≥ 0.160 keeps an included router as one node (its routes are not copied into
    the app); the prefix of the include_router call lives in its include context, and the
    route it matches lands in scope["route"] without that prefix.
    """
    for route in routes:
        included: Any = getattr(route, "original_router", None)
        if included is not None:
            context: Any = getattr(route, "include_context")  # noqa: B009
            yield from _templates(included.routes, prefix + context.prefix)
            continue
        path_format = getattr(route, "path_format", None)
        if isinstance(path_format, str):
            yield route, prefix + path_format


class RouteTemplates:
    """Route object → its full template, learnt from the app's routes on first use."""

    def __init__(self) -> None:
        # By identity: Starlette routes define __eq__ without __hash__; they live as long
        # as the app, so their ids are stable.
        self._known: dict[int, str] = {}
        self._learnt = False

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        template = self._known.get(id(route))
        if template is None:
            template = self._learn(scope, route)
        return template

    def _learn(self, scope: Scope, route: object) -> str:
        if not self._learnt and "app" in scope:
            self._learnt = True
            seen: dict[int, str] = {}
            for candidate, template in _templates(scope["app"].router.routes):
                key = id(candidate)
                # One route included under two prefixes: its own template, not a guess.
                own = getattr(candidate, "path_format", template)
                seen[key] = template if seen.get(key, template) == template else own
            self._known.update(seen)
            if id(route) in self._known:
                return self._known[id(route)]
        # A route outside the app's table (inside a mounted app): its own template, bounded.
        path_format = getattr(route, "path_format", None)
        template = path_format if isinstance(path_format, str) else UNMATCHED
        self._known[id(route)] = template
        return template
