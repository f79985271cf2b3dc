"""The startup check that every API route declared who may call it, and its documentation."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.params import Depends
from fastapi.routing import APIRoute

from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.routing import leaf_routes
from travel_recharge.security.access import AccessRule, access_rule_of


class UndeclaredAccess(RuntimeError):
    """A route without exactly one access rule: the app refuses to start."""


def _api_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str, list[Depends]]]:
    """Every APIRoute with its full path and all its dependencies."""
    for route, prefix, included in leaf_routes(app.router.routes):
        if isinstance(route, APIRoute):
            yield route, prefix + route.path_format, [*included, *route.dependencies]


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
    for route, path, dependencies in _api_routes(app):
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
