"""HTTP metrics: requests by route template, method and status, and their latency."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from starlette.types import Scope

from travel_recharge.kit.metrics import HTTP_LATENCY, HTTP_REQUESTS
from travel_recharge.observability.routes import RouteTemplates
from travel_recharge.security.rate_limit import is_uncounted

# Any other method a client makes up is "other": a label value per invented verb would let
# one client grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Counts each answer by route template, method and status, and observes its latency.

    Called by the edge (kit.edge) after the app ran: routing has written the matched route
    into the scope by then, and the latency covers every layer.
    """

    def __init__(self) -> None:
        self._templates = RouteTemplates()
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        # Requests the service makes to itself (the cache performance test) are not traffic.
        if is_uncounted(scope):
            return
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (self._templates.of(scope), method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                HTTP_REQUESTS.labels(key[0], method, str(status)),
                HTTP_LATENCY.labels(key[0], method),
            )
        series[0].inc()
        series[1].observe(seconds)
