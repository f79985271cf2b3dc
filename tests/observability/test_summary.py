"""GET /api/v1/metrics/summary: the pure aggregation on hand-made metric families, then the
real registry after real requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric

from tests.conftest import WATCHING, Network, caller_headers, client_for
from tests.money import new_card, recharge, tap
from tests.observability.samples import value
from travel_recharge.kit.metrics import LATENCY_BUCKETS
from travel_recharge.observability.summary.service import histogram_quantile, summarize
from travel_recharge.security.roles import Role

SUMMARY = "/api/v1/metrics/summary"
P = "travel_recharge"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
INF = math.inf


# --- histogram_quantile, as Prometheus computes it ------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.1, 0.04),  # rank 4 in the first bucket, which starts at 0: 0.1 * 4/10
        (0.25, 0.1),  # rank 10: exactly the first bucket's upper edge
        (0.5, 0.15),  # rank 20: 10 below, 20 in (0.1, 0.2]: 0.1 + 0.1 * 10/20
        (0.7, 0.19),  # rank 28: 18 of the 20 in (0.1, 0.2]: 0.1 + 0.1 * 18/20
        (0.95, 0.2),  # rank 38 lies in +Inf: the highest finite edge
    ],
)
def test_quantiles_interpolate_inside_the_bucket(q: float, expected: float) -> None:
    buckets = [(0.1, 10.0), (0.2, 30.0), (INF, 40.0)]
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_quantiles_of_nothing_are_none_and_input_order_does_not_matter() -> None:
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(0.1, 3.0), (0.2, 4.0)]) is None  # no +Inf bucket
    assert histogram_quantile(0.5, [(INF, 4.0), (0.2, 4.0), (0.1, 0.0)]) == pytest.approx(0.15)


# --- summarize() on hand-made families ------------------------------------------------------


def requests_family(rows: Sequence[tuple[str, str, str, float]]) -> Metric:
    family = CounterMetricFamily(f"{P}_http_requests", "", labels=["route", "method", "status"])
    for route, method, status, count in rows:
        family.add_metric([route, method, status], count)
    return family


def latency_family(route: str, method: str, per_bucket: Sequence[int], total_s: float) -> Metric:
    """A histogram from per-bucket (not cumulative) counts over LATENCY_BUCKETS and +Inf."""
    family = HistogramMetricFamily(
        f"{P}_http_request_duration_seconds", "", labels=["route", "method"]
    )
    edges = [*(str(edge) for edge in LATENCY_BUCKETS), "+Inf"]
    assert len(per_bucket) == len(edges)
    cumulative, running = [], 0.0
    for edge, count in zip(edges, per_bucket, strict=True):
        running += count
        cumulative.append((edge, running))
    family.add_metric([route, method], cumulative, total_s)
    return family


def counter(name: str, label: str, values: dict[str, float]) -> Metric:
    family = CounterMetricFamily(f"{P}_{name}", "", labels=[label])
    for label_value, count in values.items():
        family.add_metric([label_value], count)
    return family


def test_endpoint_rows_count_statuses_and_estimate_latency() -> None:
    # /a: 10 requests, 4 under 5 ms, 6 in (5, 10] ms. /b: 20 requests, all in (25, 50] ms.
    families = [
        requests_family(
            [
                ("/a", "GET", "200", 7),
                ("/a", "GET", "404", 1),
                ("/a", "GET", "499", 1),
                ("/a", "GET", "503", 1),
                ("/b", "POST", "201", 20),
            ]
        ),
        latency_family("/a", "GET", [0, 0, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0], 0.07),
        latency_family("/b", "POST", [0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0], 0.8),
    ]
    rows = [row.model_dump() for row in summarize(families, NOW, all_workers=False).endpoints]
    assert [(r["method"], r["route"]) for r in rows] == [("POST", "/b"), ("GET", "/a")]
    b, a = rows
    assert (a["requests"], a["errors"], a["client_errors"]) == (10, 1, 2)
    assert a["mean_ms"] == 7.0
    # Rank 5 of 10: 4 below 5 ms, 1 of the 6 in (5, 10] ms: 5 + 5 * 1/6.
    assert a["p50_ms"] == pytest.approx(5 + 5 / 6, abs=0.001)
    assert a["p95_ms"] == pytest.approx(5 + 5 * 5.5 / 6, abs=0.001)
    assert a["p99_ms"] == pytest.approx(5 + 5 * 5.9 / 6, abs=0.001)
    assert (b["requests"], b["errors"], b["client_errors"], b["mean_ms"]) == (20, 0, 0, 40.0)
    assert b["p50_ms"] == pytest.approx(37.5)
    assert 25 < b["p99_ms"] <= 50


def test_the_same_series_from_two_workers_is_summed() -> None:
    one = [
        requests_family([("/a", "GET", "200", 3)]),
        latency_family("/a", "GET", [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0015),
    ]
    other = [
        requests_family([("/a", "GET", "200", 1), ("/a", "GET", "500", 1)]),
        latency_family("/a", "GET", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 6.0),
    ]
    (row,) = summarize([*one, *other], NOW, all_workers=True).endpoints
    assert (row.requests, row.errors, row.client_errors) == (5, 1, 0)
    assert row.mean_ms == pytest.approx(1200.3)  # 6.0015 s over 5 requests
    assert row.p50_ms == pytest.approx(2.5 / 3, abs=0.001)  # rank 2.5 of the 3 below 1 ms
    assert row.p99_ms == 2500.0  # in +Inf: the last finite edge


def test_a_route_without_requests_has_null_latency() -> None:
    family = HistogramMetricFamily(
        f"{P}_http_request_duration_seconds", "", labels=["route", "method"]
    )
    family.add_metric(["/idle", "GET"], [("0.001", 0.0), ("+Inf", 0.0)], 0.0)
    (row,) = summarize([family], NOW, all_workers=False).endpoints
    assert row.requests == 0
    assert (row.mean_ms, row.p50_ms, row.p95_ms, row.p99_ms) == (None, None, None, None)


def test_cache_rows_per_namespace_and_a_total() -> None:
    families = [
        counter("cache_hits", "namespace", {"card": 30, "fares": 9}),
        counter("cache_misses", "namespace", {"card": 10, "fares": 1, "idle": 0}),
    ]
    cache = summarize(families, NOW, all_workers=False).cache.model_dump()
    assert cache["namespaces"] == [
        {"namespace": "card", "hits": 30, "misses": 10, "hit_rate": 0.75},
        {"namespace": "fares", "hits": 9, "misses": 1, "hit_rate": 0.9},
        {"namespace": "idle", "hits": 0, "misses": 0, "hit_rate": None},
    ]
    assert cache["total"] == {"namespace": "total", "hits": 39, "misses": 11, "hit_rate": 0.78}
    empty = summarize([], NOW, all_workers=False).cache
    assert empty.namespaces == []
    assert (empty.total.hits, empty.total.misses, empty.total.hit_rate) == (0, 0, None)


def test_business_counters_are_summed_and_absent_ones_are_null() -> None:
    taps = CounterMetricFamily(f"{P}_taps", "", labels=["service_kind", "fare_kind"])
    taps.add_metric(["trunk", "full"], 5)
    taps.add_metric(["zonal", "transfer"], 2)
    fares = CounterMetricFamily(f"{P}_fares_charged_pesos", "", labels=["service_kind"])
    fares.add_metric(["trunk"], 17750)
    recharges = CounterMetricFamily(f"{P}_recharges", "", labels=["channel"])  # no children
    business = summarize([taps, fares, recharges], NOW, all_workers=False).business
    assert business.model_dump() == {
        "taps": 7,
        "fares_charged": 17750,
        "recharges": 0,
        "recharged": None,
    }


# --- the real registry, through the API -------------------------------------------------------


async def summary_of(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(SUMMARY)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def row_of(answer: dict[str, Any], method: str, route: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        r for r in answer["endpoints"] if (r["method"], r["route"]) == (method, route)
    ]
    assert len(rows) == 1, rows
    return rows[0]


def bucket_holding(route: str, q: float) -> tuple[float, float]:
    """The (lower, upper] edges of the bucket holding the q-quantile, read from the registry."""
    edges = [*LATENCY_BUCKETS, INF]
    counts = [
        value(
            "http_request_duration_seconds_bucket",
            route=route,
            method="GET",
            le="+Inf" if edge == INF else str(edge),
        )
        for edge in edges
    ]
    rank = q * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(edges) - 1:
        return LATENCY_BUCKETS[-1], LATENCY_BUCKETS[-1]
    return (0.0 if index == 0 else edges[index - 1]), edges[index]


async def test_after_n_requests_the_row_counts_n_more(client: httpx.AsyncClient) -> None:
    route = "/api/v1/health"
    before = await summary_of(client)
    rows = [r for r in before["endpoints"] if (r["method"], r["route"]) == ("GET", route)]
    previous = rows[0]["requests"] if rows else 0
    for _ in range(7):
        assert (await client.get(route)).status_code == 200
    assert (await client.get("/api/v1/cards/987654321/balance")).status_code == 404

    after = await summary_of(client)
    assert after["all_workers"] is False  # tests run without a multiprocess directory
    row = row_of(after, "GET", route)
    assert row["requests"] - previous == 7
    timed = value("http_request_duration_seconds_count", route=route, method="GET")
    assert row["requests"] == timed
    assert row["mean_ms"] == pytest.approx(
        1000
        * value("http_request_duration_seconds_sum", route=route, method="GET")
        / row["requests"],
        abs=0.001,
    )
    for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        lower, upper = bucket_holding(route, q)
        assert lower * 1000 <= row[name] <= upper * 1000, (name, row[name], lower, upper)
    balance = row_of(after, "GET", "/api/v1/cards/{card_id}/balance")
    assert balance["client_errors"] >= 1
    assert balance["requests"] == value(
        "http_request_duration_seconds_count", route="/api/v1/cards/{card_id}/balance", method="GET"
    )
    requests = [r["requests"] for r in after["endpoints"]]
    assert requests == sorted(requests, reverse=True)


async def test_cache_figures_are_what_the_cache_did(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    stats = app.state.cache.stats
    before = await summary_of(client)
    hits_before, misses_before = stats.hits["analytics"], stats.misses["analytics"]
    # The first call misses the dashboard and today's active cards, the second hits.
    assert (await client.get("/api/v1/analytics/live")).status_code == 200
    assert (await client.get("/api/v1/analytics/live")).status_code == 200
    after = await summary_of(client)

    def figures(answer: dict[str, Any]) -> tuple[int, int]:
        rows = [r for r in answer["cache"]["namespaces"] if r["namespace"] == "analytics"]
        return (rows[0]["hits"], rows[0]["misses"]) if rows else (0, 0)

    hits = figures(after)[0] - figures(before)[0]
    misses = figures(after)[1] - figures(before)[1]
    assert (hits, misses) == (1, 2)
    assert (hits, misses) == (
        stats.hits["analytics"] - hits_before,
        stats.misses["analytics"] - misses_before,
    )
    total = after["cache"]["total"]
    assert total["hits"] == sum(r["hits"] for r in after["cache"]["namespaces"])
    assert total["misses"] == sum(r["misses"] for r in after["cache"]["namespaces"])
    assert total["hit_rate"] == round(total["hits"] / (total["hits"] + total["misses"]), 4)


async def test_business_figures_count_a_real_recharge_and_tap(
    client: httpx.AsyncClient, network: Network
) -> None:
    card = await new_card(client)
    before = (await summary_of(client))["business"]
    assert (await recharge(client, card, 10_000)).status_code == 201
    tapped = await tap(client, card, station_id=network.trunk_station)
    assert tapped.status_code == 201
    after = (await summary_of(client))["business"]
    assert {name: after[name] - before[name] for name in after} == {
        "taps": 1,
        "fares_charged": tapped.json()["fare_charged"],
        "recharges": 1,
        "recharged": 10_000,
    }
    assert after["fares_charged"] == round(registry_total(f"{P}_fares_charged_pesos_total"))


def registry_total(sample_name: str) -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == sample_name
    )


@pytest.mark.parametrize(("role", "status"), WATCHING)
async def test_analysts_and_operators_may_read_the_summary(
    app: FastAPI, role: Role | None, status: int
) -> None:
    headers = caller_headers(app, role)
    async with client_for(app, headers) as caller:
        response = await caller.get(SUMMARY)
    assert response.status_code == status, response.text
    if status == 200:
        assert set(response.json()) == {
            "generated_at",
            "all_workers",
            "endpoints",
            "cache",
            "business",
        }
