"""The service's API as the load test sees it: request names, and the set-up's own calls."""

from __future__ import annotations

import json
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

# Request names in locust's statistics: the API's path templates, so one row per endpoint.
TOKEN = "/api/v1/auth/token"  # noqa: S105 (a path)
ME = "/api/v1/auth/me"
BALANCE = "/api/v1/cards/{card_id}/balance"
HISTORY = "/api/v1/cards/{card_id}/history"
LEDGER = "/api/v1/cards/{card_id}/ledger"
CARD_TRIPS = "/api/v1/trips/card/{card_id}"
ARRIVALS = "/api/v1/stations/{station_id}/arrivals"
ALERTS = "/api/v1/stations/{station_id}/alerts"
STATION_DETAILS = "/api/v1/stations/{station_code}/details"
ROUTE_DETAILS = "/api/v1/routes/{route_code}/details"
STATIONS = "/api/v1/stations"
FARES = "/api/v1/fares"
TAP = "/api/v1/trips/start"
TRIP_END = "/api/v1/trips/end"
RECHARGE = "/api/v1/cards/recharge"
RECHARGE_RETRY = "/api/v1/cards/recharge [retry]"
USERS_COUNT = "/api/v1/users/count"
USERS_ACTIVE = "/api/v1/users/active/count"
USERS_LATEST = "/api/v1/users/latest"
TRIPS_TOTAL = "/api/v1/trips/total"
TRIPS_LOCALITIES = "/api/v1/trips/total/localities"
REVENUE = "/api/v1/finance/revenue"
REVENUE_LOCALITIES = "/api/v1/finance/revenue/localities"
TRIPS_BY_HOUR = "/api/v1/analytics/trips-by-hour"
REVENUE_BY_DAY = "/api/v1/analytics/revenue-by-day"
TOP_STATIONS = "/api/v1/analytics/top-stations"
SHARES = "/api/v1/analytics/shares"
CACHE_STATS = "/api/v1/cache/stats"
CACHE_KEYS = "/api/v1/cache/keys"
CACHE_HEALTH = "/api/v1/cache/health"
HEALTH = "/api/v1/health"
HEALTH_DB = "/api/v1/health/db"
HEALTH_CACHE = "/api/v1/health/cache"

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class SetupError(RuntimeError):
    """The load test cannot start: no host, admin, database, fare policy or seeded data."""


def setup_request(
    host: str,
    method: str,
    path: str,
    *,
    form: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One set-up call (not counted in the load test's statistics); its JSON answer."""
    data, sent = None, dict(headers or {})
    if form is not None:
        data, sent["Content-Type"] = urlencode(form).encode(), FORM["Content-Type"]
    elif body is not None:
        data, sent["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = Request(host.rstrip("/") + path, data=data, headers=sent, method=method)  # noqa: S310
    try:
        with urlopen(request, timeout=30) as answer:  # noqa: S310 (the --host given)
            return json.loads(answer.read() or b"null")
    except HTTPError as exc:
        raise SetupError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc
    except URLError as exc:
        raise SetupError(f"{method} {path}: {exc.reason}") from exc
