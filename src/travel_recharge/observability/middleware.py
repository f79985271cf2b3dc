"""HTTP metrics: requests by route template, method and status, and their latency."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from travel_recharge.kit.metrics import HTTP_LATENCY, HTTP_REQUESTS
from travel_recharge.observability.routes import RouteTemplates
from travel_recharge.security.rate_limit import is_uncounted

# Any other method a client makes up is "other": a label value per invented verb would let
# one client grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# nginx's code for a request the client abandoned before its answer started.
CLIENT_CLOSED = 499


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body buffering, unlike BaseHTTPMiddleware).

    Installed outermost, so the latency covers every other middleware too. The route is read
    from the scope after the app ran: routing writes the matched route there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates = RouteTemplates()
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Requests the service makes to itself (the cache performance test) are not traffic.
        if scope["type"] != "http" or is_uncounted(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except asyncio.CancelledError:
            self._record(scope, status or CLIENT_CLOSED, time.perf_counter() - started)
            raise
        except BaseException:
            # The server's error handler, outside us, answers 500 unless an answer started.
            self._record(scope, status or 500, time.perf_counter() - started)
            raise
        self._record(scope, status or 500, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
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
