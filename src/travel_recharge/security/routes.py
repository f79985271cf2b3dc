"""The startup check that every API route declared who may call it, and its documentation."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.params import Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from travel_recharge.errors import error_responses
from travel_recharge.security.access import AccessRule, access_rule_of


class UndeclaredAccess(RuntimeError):
    """A route without exactly one access rule: the app refuses to start."""


def _api_routes(
    routes: Sequence[BaseRoute], prefix: str = "", dependencies: Sequence[Depends] = ()
) -> Iterator[tuple[APIRoute, str, list[Depends]]]:
    """Every APIRoute with its full path and all its dependencies, through included routers.

    FastAPI ≥ 0.160 keeps an included router as one node (its routes are not copied into
    the app), carrying the prefix and dependencies of the include_router call.
    """
    for route in routes:
        included: Any = getattr(route, "original_router", None)
        if included is not None:
            context: Any = getattr(route, "include_context")  # noqa: B009
            yield from _api_routes(
                included.routes,
                prefix + context.prefix,
                [*dependencies, *context.dependencies],
            )
        elif isinstance(route, APIRoute):
            yield route, prefix + route.path_format, [*dependencies, *route.dependencies]


def rule_of(path: str, methods: Collection[str], dependencies: Sequence[Depends]) -> AccessRule:
    rules = [rule for rule in (access_rule_of(d.dependency) for d in dependencies) if rule]
    if len(rules) != 1:
        raise UndeclaredAccess(
            f"{','.join(sorted(methods))} {path} declares {len(rules)} access rules; exactly "
            "one of security.public/allow/allow_card_owner must be among its dependencies"
        )
    return rules[0]


def secure_routes(
    app: FastAPI, limited_groups: Collection[str]
) -> dict[tuple[str, str], AccessRule]:
    """Check every API route and add its 401/403/429 answers to the OpenAPI document.

    Call it before the app serves (FastAPI copies a route's documented answers when it first
    routes a request). Returns each (method, full path)'s rule, for tests and tools."""
    rules: dict[tuple[str, str], AccessRule] = {}
    for route, path, dependencies in _api_routes(app.router.routes):
        methods = route.methods or set()
        rule = rule_of(path, methods, dependencies)
        statuses = ([] if rule.public else [401, 403]) + (
            [429] if rule.group in limited_groups else []
        )
        if get_flat_params(route.dependant) or route.body_field:
            # Our validation answers ({"error", "detail", "fields"}), not FastAPI's default.
            statuses.append(422)
        route.responses = {**error_responses(*statuses), **route.responses}
        for method in methods:
            rules[(method, path)] = rule
    return rules
