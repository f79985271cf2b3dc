"""`travel-recharge bench reads`: each read endpoint warm (Redis) and cold (PostgreSQL only).

Two servers of the same build run on the same database: one with Redis, one whose Redis URL
points at a closed port, so every answer there comes from PostgreSQL through the fail-open
path (the circuit breaker skips Redis). Each endpoint is measured on both, one after the
other, with the same clients and duration. The data is whatever the database holds: seed it
first (`travel-recharge seed ...`) at the size you want to measure.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg

from travel_recharge.bench.http_load import LoadResult, get_request, load_local, percentile
from travel_recharge.bench.report import report_header, write_report
from travel_recharge.bench.server import authorization, bench_server
from travel_recharge.kit.config import Settings
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.security.roles import Role

# The analytics and reference reads of the API; card balances are added with real card ids.
ENDPOINTS = (
    "/api/v1/users/count",
    "/api/v1/users/active/count",
    "/api/v1/users/latest",
    "/api/v1/trips/total",
    "/api/v1/trips/total/localities",
    "/api/v1/finance/revenue",
    "/api/v1/finance/revenue/localities",
    "/api/v1/analytics/trips-by-hour",
    "/api/v1/analytics/revenue-by-day",
    "/api/v1/analytics/top-stations",
    "/api/v1/analytics/shares",
    "/api/v1/fares",
)
CLOSED_REDIS = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class ReadBenchOptions:
    clients: int = 8
    seconds: float = 3.0
    workers: int = 1
    report_dir: Path = Path("bench-reports")


def run_read_bench(settings: Settings, options: ReadBenchOptions) -> dict[str, Any]:
    assert settings.database_url, "infrastructure() provides the database"
    assert settings.redis_url, "infrastructure() provides Redis"
    trips, card_ids = asyncio.run(_dataset(settings.database_url))
    base = {"TR_DATABASE_URL": settings.database_url}
    warm_env = base | {
        "TR_REDIS_URL": settings.redis_url,
        "TR_CACHE_NAMESPACE": f"benchreads{uuid.uuid4().hex[:8]}",
    }
    paths = list(ENDPOINTS)
    if card_ids:
        paths.append("/api/v1/cards/{card_id}/balance")
    rows = []
    with (
        bench_server(warm_env, options.workers) as warm_port,
        bench_server(base | {"TR_REDIS_URL": CLOSED_REDIS}, options.workers) as cold_port,
    ):
        for path in paths:
            warm = _measure(warm_port, path, card_ids, options, prime=True)
            cold = _measure(cold_port, path, card_ids, options, prime=False)
            rows.append(_row(path, warm, cold))
    report = report_header("reads") | {
        "trips_in_database": trips,
        "options": {k: str(v) for k, v in asdict(options).items()},
        "endpoints": rows,
    }
    write_report(report, markdown(report), options.report_dir)
    return report


async def _dataset(database_url: str) -> tuple[int, list[int]]:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        trips = await connection.fetchval("SELECT coalesce(sum(trips), 0) FROM rollup_totals")
        ids = await connection.fetch("SELECT id FROM cards ORDER BY id LIMIT 200")
        return int(trips), [int(r["id"]) for r in ids]
    finally:
        await connection.close()


def _measure(
    port: int, path: str, card_ids: list[int], options: ReadBenchOptions, *, prime: bool
) -> LoadResult:
    # Card views are read by an operator, analytics by an analyst; fares are public.
    headers = authorization(Role.operator if "{card_id}" in path else Role.analyst)

    def request() -> bytes:
        concrete = path.format(card_id=random.choice(card_ids)) if "{" in path else path
        return get_request("127.0.0.1", concrete, headers)

    if prime:  # fill the cache (for card balances: the ids in use)
        load_local(port, request, options.clients, 0.5)
    return load_local(port, request, options.clients, options.seconds)


def _figures(result: LoadResult) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(result.latencies_s, 0.50) * 1000, 2),
        "p99_ms": round(percentile(result.latencies_s, 0.99) * 1000, 2),
        "per_s": round(result.throughput, 1),
        "non_2xx": result.non_2xx,
    }


def _row(path: str, warm: LoadResult, cold: LoadResult) -> dict[str, Any]:
    warm_figures, cold_figures = _figures(warm), _figures(cold)
    ratio = cold_figures["p50_ms"] / warm_figures["p50_ms"] if warm_figures["p50_ms"] else None
    return {
        "endpoint": path,
        "warm": warm_figures,
        "cold": cold_figures,
        "cold_over_warm_p50": round(ratio, 2) if ratio else None,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Trips in the database: {report['trips_in_database']:,}",
        "",
        "| endpoint | warm p50 ms | warm p99 ms | warm req/s | cold p50 ms | cold p99 ms "
        "| cold req/s | cold/warm p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["endpoints"]:
        w, c = row["warm"], row["cold"]
        lines.append(
            f"| `{row['endpoint']}` | {w['p50_ms']} | {w['p99_ms']} | {w['per_s']} | "
            f"{c['p50_ms']} | {c['p99_ms']} | {c['per_s']} | {row['cold_over_warm_p50']} |"
        )
    return "\n".join(lines)
