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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from travel_recharge.bench.http_load import LoadResult, get_request, load_local
from travel_recharge.bench.report import report_header, write_report
from travel_recharge.bench.server import WITHOUT_JOBS, authorization, bench_server
from travel_recharge.kit.config import Settings
from travel_recharge.kit.percentiles import percentile
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.ops.cache.performance import READ_ENDPOINTS
from travel_recharge.security.roles import Role

CLOSED_REDIS = "redis://127.0.0.1:1/0"

# The roadmap's analytics, over the data's own days (the seed may end before today): the last
# day's station performance, and the flows of the whole span, the most days a request sums.
ROADMAP_READS = (
    "/api/v1/analytics/station-performance?day={last}",
    "/api/v1/analytics/od-matrix?from={first}&to={last}",
    "/api/v1/analytics/od-matrix?level=station&from={first}&to={last}",
    "/api/v1/analytics/od-matrix?band=am_peak&from={first}&to={last}",
    "/api/v1/analytics/transfer-flows?from={first}&to={last}",
)
# The latest day's rider figures, when the daily job has counted one.
RIDERS_READ = "/api/v1/analytics/riders?day={day}"


@dataclass(frozen=True)
class ReadBenchOptions:
    clients: int = 8
    seconds: float = 3.0
    workers: int = 1
    report_dir: Path = Path("bench-reports")


def run_read_bench(settings: Settings, options: ReadBenchOptions) -> dict[str, Any]:
    assert settings.database_url, "infrastructure() provides the database"
    assert settings.redis_url, "infrastructure() provides Redis"
    trips, card_ids, days, riders_day = asyncio.run(_dataset(settings.database_url))
    base = WITHOUT_JOBS | {"TR_DATABASE_URL": settings.database_url}
    warm_env = base | {
        "TR_REDIS_URL": settings.redis_url,
        "TR_CACHE_NAMESPACE": f"benchreads{uuid.uuid4().hex[:8]}",
    }
    paths = list(READ_ENDPOINTS)
    if days is not None:
        first, last = _span(*days, settings.timezone)
        paths += [path.format(first=first, last=last) for path in ROADMAP_READS]
    if riders_day is not None:
        paths.append(RIDERS_READ.format(day=riders_day.isoformat()))
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


async def _dataset(
    database_url: str,
) -> tuple[int, list[int], tuple[date, date] | None, date | None]:
    """Trips, some card ids, the first and last local days with real trips, and the latest
    day with rider figures."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        trips = await connection.fetchval("SELECT coalesce(sum(trips), 0) FROM rollup_totals")
        ids = await connection.fetch("SELECT id FROM cards ORDER BY id LIMIT 200")
        first, last = await connection.fetchrow(
            "SELECT min(day), max(day) FROM rollup_hours WHERE NOT simulated"
        )
        days = None if first is None else (first, last)
        riders_day = await connection.fetchval("SELECT max(day) FROM rider_snapshots")
        return int(trips), [int(r["id"]) for r in ids], days, riders_day
    finally:
        await connection.close()


def _span(first: date, last: date, timezone: str) -> tuple[str, str]:
    """The data's days as the endpoints accept them: none after today, at most 92."""
    last = min(last, datetime.now(ZoneInfo(timezone)).date())
    first = max(first, last - timedelta(days=91))
    return first.isoformat(), last.isoformat()


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
