"""GET /metrics: what Prometheus scrapes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.observability.exposition import latest
from travel_recharge.security import Role, allow

# A token with the analyst role (Prometheus gets one through its oauth2 client-credentials
# support, see deploy/prometheus.yml): the figures include revenue.
router = APIRouter(
    tags=["operations"],
    route_class=StrictJSONRoute,
    dependencies=[allow("metrics", Role.analyst)],
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics() -> Response:
    """Every worker's metrics in the Prometheus text format (one scrape covers the service)."""
    # Reading the workers' files blocks; a thread keeps the event loop serving meanwhile.
    body = await asyncio.to_thread(latest)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
