"""GET /api/v1/metrics/summary: /metrics' latency, cache and business figures as JSON.

Apart from /metrics' router, whose access rule (analysts, i.e. Prometheus) covers all its
routes: operators read the latency and cache figures on their dashboard too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from prometheus_client.metrics_core import Metric

from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.observability.exposition import current_registry, multiprocess_dir
from travel_recharge.observability.schemas import MetricsSummary
from travel_recharge.observability.summary import service as summary
from travel_recharge.security import Role, allow

router = APIRouter(
    prefix="/api/v1/metrics",
    tags=["operations"],
    route_class=StrictJSONRoute,
    dependencies=[allow("metrics", Role.analyst, Role.operator)],
)


def _collect() -> list[Metric]:
    return list(current_registry().collect())


@router.get("/summary", response_model=MetricsSummary)
async def metrics_summary() -> MetricsSummary:
    """Per-endpoint requests, errors and latency percentiles, cache hit rates, money counters."""
    # Reading the workers' files blocks; a thread keeps the event loop serving meanwhile.
    families = await asyncio.to_thread(_collect)
    return summary.summarize(
        families, datetime.now(UTC), all_workers=multiprocess_dir() is not None
    )
