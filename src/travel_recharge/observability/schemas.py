"""GET /api/v1/metrics/summary's answer: the Prometheus figures a dashboard shows, as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from travel_recharge.kit.metrics import LATENCY_BUCKETS

_EDGES_MS = [f"{edge * 1000:g}" for edge in LATENCY_BUCKETS]
_ESTIMATE = (
    "estimated from the latency histogram's buckets by linear interpolation inside the bucket "
    "(as Prometheus' histogram_quantile does), so only as precise as the bucket edges "
    f"({', '.join(_EDGES_MS)} ms); an estimate past the last edge is that edge "
    f"({_EDGES_MS[-1]}). Null without requests"
)


class EndpointFigures(BaseModel):
    method: str
    route: str = Field(description="the route template (never a concrete path), or 'unmatched'")
    requests: int
    errors: int = Field(description="answers with a status of 500 or more")
    client_errors: int = Field(description="answers with a 4xx status")
    mean_ms: float | None = Field(description="mean latency, exact; null without requests")
    p50_ms: float | None = Field(description=f"median latency, {_ESTIMATE}")
    p95_ms: float | None = Field(description=f"95th percentile latency, {_ESTIMATE}")
    p99_ms: float | None = Field(description=f"99th percentile latency, {_ESTIMATE}")


class CacheFigures(BaseModel):
    namespace: str = Field(description="the cache namespace, or 'total' for all of them")
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses), 0-1; null when neither")


class CacheSummary(BaseModel):
    namespaces: list[CacheFigures] = Field(description="every namespace looked up, by name")
    total: CacheFigures


class BusinessFigures(BaseModel):
    """Committed money-path events; null when the service exports no such counter."""

    taps: int | None = Field(description="taps priced and committed")
    fares_charged: int | None = Field(description="pesos charged by those taps")
    recharges: int | None = Field(description="recharges committed (not replays)")
    recharged: int | None = Field(description="pesos credited by those recharges")


class MetricsSummary(BaseModel):
    generated_at: datetime = Field(description="when the metrics were read, UTC")
    all_workers: bool = Field(
        description="true: summed over every worker process of the service (the same figures "
        "/metrics exposes); false: this process only (no multiprocess directory)"
    )
    endpoints: list[EndpointFigures] = Field(
        description="one row per method and route template seen, most requests first; "
        "counted since the service started"
    )
    cache: CacheSummary
    business: BusinessFigures
