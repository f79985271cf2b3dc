"""`travel-recharge bench taps`: tap-in throughput through HTTP beside pgbench's ceiling.

One run, one PostgreSQL: a scratch database is migrated and given fixture cards; the real
service serves it from a subprocess while a keep-alive load generator taps; then pgbench runs
the same SQL transaction on other cards of the same database. The ledger must verify after
both, and the scratch database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

from travel_recharge.bench.http_load import LoadResult, percentile, post_request, run_load
from travel_recharge.bench.pgbench import PgbenchResult, run_pgbench
from travel_recharge.bench.report import report_header, write_report
from travel_recharge.bench.server import authorization, bench_server
from travel_recharge.config import Settings
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.scratch import libpq_url, scratch_database
from travel_recharge.security.roles import Role


@dataclass(frozen=True)
class TapBenchOptions:
    clients: int = 64
    seconds: int = 15
    warmup_seconds: int = 3
    cards: int = 4000
    workers: int = 2
    report_dir: Path = Path("bench-reports")


def run_tap_bench(settings: Settings, options: TapBenchOptions) -> dict[str, Any]:
    assert settings.database_url, "infrastructure() provides the database"
    assert settings.redis_url, "infrastructure() provides Redis"
    with scratch_database(settings.database_url, "tr_bench") as database_url:
        upgrade_to_head(database_url)
        asyncio.run(_load_fixture(database_url, options.cards))
        http = _http_phase(database_url, settings.redis_url, options)
        half = options.cards // 2
        pg = run_pgbench(
            libpq_url(database_url),
            Path(str(files("travel_recharge.bench") / "tap_transaction.sql")),
            clients=options.clients,
            seconds=options.seconds,
            variables={"first_card": half + 1, "last_card": options.cards},
        )
        ledger_mismatches = asyncio.run(_ledger_mismatches(database_url))
    report = _report(http, pg, options, ledger_mismatches)
    write_report(report, markdown(report), options.report_dir)
    return report


async def _load_fixture(database_url: str, cards: int) -> None:
    script = (files("travel_recharge.bench") / "tap_fixture.sql").read_text()
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(script.replace(":cards", str(int(cards))))
    finally:
        await connection.close()


async def _ledger_mismatches(database_url: str) -> int:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM cards c LEFT JOIN (SELECT card_id, sum(amount) AS s "
                "FROM ledger_entries GROUP BY card_id) l ON l.card_id = c.id "
                "WHERE c.balance <> coalesce(l.s, 0)"
            )
        )
    finally:
        await connection.close()


def _http_phase(database_url: str, redis_url: str, options: TapBenchOptions) -> LoadResult:
    environment = {
        "TR_DATABASE_URL": database_url,
        "TR_REDIS_URL": redis_url,
        "TR_CACHE_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
        "TR_DB_POOL_SIZE": str(max(4, options.clients // options.workers)),
    }
    half = options.cards // 2
    validator = authorization(Role.validator)

    def request() -> bytes:
        body = {
            "card_id": random.randint(1, half),
            "station_id": 1,
            "validator_id": f"BENCH-{random.getrandbits(40):x}",
            "tap_id": str(uuid.uuid4()),
        }
        return post_request(
            "127.0.0.1", "/api/v1/trips/start", json.dumps(body).encode(), validator
        )

    with bench_server(environment, options.workers) as port:

        async def load(seconds: int) -> LoadResult:
            return await run_load("127.0.0.1", port, request, options.clients, seconds)

        # uvloop: the generator shares the CPU with the server, so it should use little.
        uvloop.run(load(options.warmup_seconds))
        return uvloop.run(load(options.seconds))


def _report(
    http: LoadResult, pg: PgbenchResult, options: TapBenchOptions, ledger_mismatches: int
) -> dict[str, Any]:
    created = http.statuses.get(201, 0)
    return report_header("taps") | {
        "options": {k: str(v) for k, v in asdict(options).items()},
        "http": {
            "requests": http.requests,
            "taps_created": created,
            "statuses": {str(k): v for k, v in sorted(http.statuses.items())},
            "throughput_per_s": round(http.throughput, 1),
            "p50_ms": round(percentile(http.latencies_s, 0.50) * 1000, 2),
            "p90_ms": round(percentile(http.latencies_s, 0.90) * 1000, 2),
            "p99_ms": round(percentile(http.latencies_s, 0.99) * 1000, 2),
        },
        "pgbench": {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(pg).items()},
        "http_vs_pgbench": round(http.throughput / pg.tps, 3) if pg.tps else None,
        "ledger_mismatches": ledger_mismatches,
    }


def markdown(report: dict[str, Any]) -> str:
    http, pg = report["http"], report["pgbench"]
    return "\n".join(
        [
            "| path | per second | p50 ms | p90 ms | p99 ms | ratio |",
            "|---|---|---|---|---|---|",
            f"| HTTP POST /api/v1/trips/start | {http['throughput_per_s']} | {http['p50_ms']} | "
            f"{http['p90_ms']} | {http['p99_ms']} | {report['http_vs_pgbench']} |",
            f"| pgbench, same SQL transaction | {pg['tps']} | {pg['p50_ms']} | {pg['p90_ms']} | "
            f"{pg['p99_ms']} | 1 |",
        ]
    )
