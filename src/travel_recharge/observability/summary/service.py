"""Endpoint latency, cache and business figures, summed from Prometheus metric families.

Pure functions over what a registry's collect() yields (exposition.current_registry: every
worker's files in multiprocess mode, so the figures are the service's, not one worker's).
Samples are matched by name and summed per key, so a family split over several workers or
a registry that also yields `_created` samples gives the same answer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from travel_recharge.kit.metrics import PREFIX
from travel_recharge.observability.schemas import (
    BusinessFigures,
    CacheFigures,
    CacheSummary,
    EndpointFigures,
    MetricsSummary,
)

REQUESTS = f"{PREFIX}_http_requests_total"
LATENCY = f"{PREFIX}_http_request_duration_seconds"
CACHE_HITS = f"{PREFIX}_cache_hits_total"
CACHE_MISSES = f"{PREFIX}_cache_misses_total"
QUANTILES = (0.5, 0.95, 0.99)
# Summary field -> the counter's sample name.
BUSINESS = {
    "taps": f"{PREFIX}_taps_total",
    "fares_charged": f"{PREFIX}_fares_charged_pesos_total",
    "recharges": f"{PREFIX}_recharges_total",
    "recharged": f"{PREFIX}_recharged_pesos_total",
}

Bucket = tuple[float, float]  # upper bound in seconds (inf for +Inf), cumulative count


def histogram_quantile(q: float, buckets: Sequence[Bucket]) -> float | None:
    """The q-quantile of a cumulative histogram, estimated as Prometheus'
    histogram_quantile does: find the bucket holding the q * total-th observation and
    interpolate linearly between its edges (the first bucket starts at 0). Past the last
    finite edge the answer is that edge. None without observations.
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None  # no +Inf bucket: not a Prometheus histogram
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    # The first bucket reaching the rank, by a linear scan: unlike Prometheus' binary search
    # it needs no monotonic counts, and the bucket below it always holds fewer than the rank.
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    end, count = ordered[index]
    if index == 0:
        if end <= 0:
            return end
        start, below = 0.0, 0.0
    else:
        start, below = ordered[index - 1]
    return start + (end - start) * (rank - below) / (count - below)


@dataclass
class _Endpoint:
    statuses: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))
    seconds: float = 0.0
    observed: float = 0.0

    def figures(self, method: str, route: str) -> EndpointFigures:
        requests = sum(self.statuses.values())
        quantiles = [histogram_quantile(q, list(self.buckets.items())) for q in QUANTILES]
        p50, p95, p99 = (None if s is None else _ms(s) for s in quantiles)
        return EndpointFigures(
            method=method,
            route=route,
            requests=round(requests),
            errors=round(sum(n for status, n in self.statuses.items() if status >= 500)),
            client_errors=round(
                sum(n for status, n in self.statuses.items() if 400 <= status < 500)
            ),
            mean_ms=_ms(self.seconds / self.observed) if self.observed else None,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _samples(families: Iterable[Metric]) -> Iterator[Sample]:
    for family in families:
        yield from family.samples


def endpoints(families: Iterable[Metric]) -> list[EndpointFigures]:
    """One row per (method, route template) with requests or latency samples, most
    requests first."""
    found: dict[tuple[str, str], _Endpoint] = defaultdict(_Endpoint)
    for sample in _samples(families):
        labels = sample.labels
        if "route" not in labels or "method" not in labels:
            continue
        key = (labels["method"], labels["route"])
        if sample.name == REQUESTS:
            found[key].statuses[int(labels["status"])] += sample.value
        elif sample.name == f"{LATENCY}_bucket":
            found[key].buckets[float(labels["le"])] += sample.value
        elif sample.name == f"{LATENCY}_sum":
            found[key].seconds += sample.value
        elif sample.name == f"{LATENCY}_count":
            found[key].observed += sample.value
    rows = [endpoint.figures(method, route) for (method, route), endpoint in found.items()]
    return sorted(rows, key=lambda row: (-row.requests, row.route, row.method))


def _cache_figures(namespace: str, hits: float, misses: float) -> CacheFigures:
    looked_up = hits + misses
    return CacheFigures(
        namespace=namespace,
        hits=round(hits),
        misses=round(misses),
        hit_rate=round(hits / looked_up, 4) if looked_up else None,
    )


def cache(families: Iterable[Metric]) -> CacheSummary:
    """Hits, misses and hit rate per cache namespace, and over all of them."""
    hits: dict[str, float] = defaultdict(float)
    misses: dict[str, float] = defaultdict(float)
    for sample in _samples(families):
        namespace = sample.labels.get("namespace")
        if namespace is None:
            continue
        if sample.name == CACHE_HITS:
            hits[namespace] += sample.value
        elif sample.name == CACHE_MISSES:
            misses[namespace] += sample.value
    return CacheSummary(
        namespaces=[
            _cache_figures(name, hits[name], misses[name]) for name in sorted({*hits, *misses})
        ],
        total=_cache_figures("total", sum(hits.values()), sum(misses.values())),
    )


def business(families: Iterable[Metric]) -> BusinessFigures:
    """The money-path counters summed over their labels; None for a counter not exported
    at all (one exported but never incremented is 0)."""
    wanted = {sample_name: name for name, sample_name in BUSINESS.items()}
    totals: dict[str, float | None] = dict.fromkeys(BUSINESS)
    for family in families:
        # A labelled counter without children yet has no samples: its family says it exists.
        for exported in (family.name, f"{family.name}_total"):
            if exported in wanted and totals[wanted[exported]] is None:
                totals[wanted[exported]] = 0.0
        for sample in family.samples:
            name = wanted.get(sample.name)
            if name is not None:
                totals[name] = (totals[name] or 0.0) + sample.value
    figures = {name: None if value is None else round(value) for name, value in totals.items()}
    return BusinessFigures(**figures)


def summarize(families: Iterable[Metric], now: datetime, *, all_workers: bool) -> MetricsSummary:
    collected = list(families)  # a registry's collect() is a generator: read it once
    return MetricsSummary(
        generated_at=now,
        all_workers=all_workers,
        endpoints=endpoints(collected),
        cache=cache(collected),
        business=business(collected),
    )
