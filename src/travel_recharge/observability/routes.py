"""The route template of a request: the label its metrics carry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from travel_recharge.kit.routing import leaf_routes

# Requests no route matched (404 probes, CORS preflights, refused bodies) share one label,
# so a scanner walking random paths cannot create a series per path.
UNMATCHED = "unmatched"


def _templates(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, str]]:
    """Every route with its full path template."""
    for route, prefix, _ in leaf_routes(routes):
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
        self._mounts: list[str] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return self._mounted(scope)
        template = self._known.get(id(route))
        if template is None:
            template = self._learn(scope, route)
        return template

    def _mounted(self, scope: Scope) -> str:
        """Requests to a mounted app (the static files) set no route: one label per mount."""
        if self._mounts is None:
            app = scope.get("app")
            routes = app.router.routes if app is not None else []
            self._mounts = [route.path for route in routes if isinstance(route, Mount)]
        path: str = scope.get("path", "")
        for prefix in self._mounts:
            if path.startswith(prefix + "/"):
                return prefix + "/{path}"
        return UNMATCHED

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
