"""`travel-recharge bench taps`: tap-in throughput through HTTP beside pgbench's ceiling.

One run, one PostgreSQL: a scratch database is migrated and given fixture cards; the real
service serves it from a subprocess while a keep-alive load generator taps, then sends
offline batches of 500 taps (the same cards, other validators); then pgbench runs the same
SQL transaction on other cards of the same database. The ledger must verify after all three,
and the scratch database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg

from travel_recharge.bench.http_load import LoadResult, load_local, post_request
from travel_recharge.bench.pgbench import PgbenchResult, run_pgbench
from travel_recharge.bench.report import report_header, write_report
from travel_recharge.bench.server import WITHOUT_JOBS, authorization, bench_server
from travel_recharge.kit.config import Settings
from travel_recharge.kit.scratch import libpq_url, scratch_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.security.roles import Role


@dataclass(frozen=True)
class TapBenchOptions:
    clients: int = 64
    seconds: int = 15
    warmup_seconds: int = 3
    cards: int = 4000
    workers: int = 2
    report_dir: Path = Path("bench-reports")
    # Offline batches: validators uploading at once as their link comes back, each batch the
    # most one holds.
    batch_clients: int = 8
    batch_taps: int = 500


def run_tap_bench(settings: Settings, options: TapBenchOptions) -> dict[str, Any]:
    assert settings.database_url, "infrastructure() provides the database"
    assert settings.redis_url, "infrastructure() provides Redis"
    with scratch_database(settings.migration_url or "", "tr_bench") as database_url:
        upgrade_to_head(database_url)
        asyncio.run(load_tap_fixture(database_url, options.cards))
        http, batches, batch_taps = _http_phase(database_url, settings.redis_url, options)
        pg = run_tap_pgbench(
            database_url, options.cards // 2 + 1, options.cards, options.clients, options.seconds
        )
        ledger_mismatches = asyncio.run(count_ledger_mismatches(database_url))
    report = _report(http, batches, batch_taps, pg, options, ledger_mismatches)
    write_report(report, markdown(report), options.report_dir)
    return report


def run_tap_pgbench(
    database_url: str, first_card: int, last_card: int, clients: int, seconds: int
) -> PgbenchResult:
    """pgbench running the tap's SQL transaction on the cards first_card..last_card."""
    return run_pgbench(
        libpq_url(database_url),
        Path(str(files("travel_recharge.bench") / "tap_transaction.sql")),
        clients=clients,
        seconds=seconds,
        variables={"first_card": first_card, "last_card": last_card},
    )


async def load_tap_fixture(database_url: str, cards: int) -> None:
    """The benchmark's account, one portal and `cards` cards at the maximum balance."""
    await load_fixture(database_url, "account_fixture.sql", {})
    await load_fixture(database_url, "tap_fixture.sql", {"cards": cards})


async def load_fixture(database_url: str, script: str, variables: dict[str, int]) -> None:
    """Run a fixture script of this package, its `:name` placeholders replaced by integers."""
    text = (files("travel_recharge.bench") / script).read_text()
    for name, value in variables.items():
        text = text.replace(f":{name}", str(int(value)))
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(text)
    finally:
        await connection.close()


async def count_ledger_mismatches(database_url: str) -> int:
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


def tap_request(first_card: int, last_card: int) -> Callable[[], bytes]:
    """A tap-in on a random card of the range, at the fixture's station, by a validator id of
    its own, so that no tap is a double tap of another. An admin sends them: a validator
    account may only name the one validator it is bound to (the same access rule and code
    path otherwise)."""
    return tap_on(range(first_card, last_card + 1), 1, authorization(Role.admin))


def tap_on(
    cards: Sequence[int], station_id: int, headers: Mapping[str, str], host: str = "127.0.0.1"
) -> Callable[[], bytes]:
    """A tap-in on a random card of `cards` at `station_id`, by a validator id of its own."""

    def request() -> bytes:
        body = {
            "card_id": random.choice(cards),
            "station_id": station_id,
            "validator_id": f"BENCH-{random.getrandbits(40):x}",
            "tap_id": str(uuid.uuid4()),
        }
        return post_request(host, "/api/v1/trips/start", json.dumps(body).encode(), headers)

    return request


def server_environment(database_url: str, redis_url: str, clients: int) -> dict[str, str]:
    """The service's settings for a bench: a pool per worker that the clients can fill.

    The kernel hands the clients' connections to the workers unevenly, so any worker may
    serve them all at once: its pool holds a connection per client. Sized at an even share
    (clients // workers), the busier worker took overflow connections, each opened for one
    request and closed after it: `bench taps` at 16 clients made 509 taps/s against 866/s
    in the suite's run at 16 clients with room in the pool."""
    return WITHOUT_JOBS | {
        "TR_DATABASE_URL": database_url,
        "TR_REDIS_URL": redis_url,
        "TR_CACHE_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
        "TR_DB_POOL_SIZE": str(max(4, clients)),
    }


def batch_request(
    cards: Sequence[int], taps: int, headers: Mapping[str, str]
) -> Callable[[], bytes]:
    """An offline batch of `taps` taps on distinct cards of `cards` at the fixture's station,
    read within the last hour by a validator of its own (so none is a double tap)."""
    now = datetime.now(UTC)

    def request() -> bytes:
        read = [
            {
                "tap_id": str(uuid.uuid4()),
                "card_id": card_id,
                "event_time": (now - timedelta(seconds=random.uniform(0, 3600))).isoformat(),
                "station_id": 1,
            }
            for card_id in random.sample(cards, taps)
        ]
        body = {"validator_id": f"BENCH-OFF-{random.getrandbits(40):x}", "taps": read}
        return post_request(
            "127.0.0.1", "/api/v1/trips/batches", json.dumps(body).encode(), headers
        )

    return request


_BATCH_TRIPS = "SELECT count(*) FROM trips WHERE validator_id LIKE 'BENCH-OFF-%'"


async def count_batch_trips(database_url: str) -> int:
    """The trips the batches charged so far (their validators' ids say so)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        return int(await connection.fetchval(_BATCH_TRIPS))
    finally:
        await connection.close()


def _http_phase(
    database_url: str, redis_url: str, options: TapBenchOptions
) -> tuple[LoadResult, LoadResult, int]:
    """The online taps, then the batches; and how many taps the measured batches charged
    (counted in the database: a batch's answer is 200 whatever each tap's result)."""
    environment = server_environment(database_url, redis_url, options.clients)
    request = tap_request(1, options.cards // 2)
    cards = range(1, options.cards // 2 + 1)
    batches = batch_request(cards, min(options.batch_taps, len(cards)), authorization(Role.admin))
    with bench_server(environment, options.workers) as port:
        load_local(port, request, options.clients, options.warmup_seconds)
        online = load_local(port, request, options.clients, options.seconds)
        load_local(port, batches, options.batch_clients, options.warmup_seconds)
        before = asyncio.run(count_batch_trips(database_url))
        measured = load_local(port, batches, options.batch_clients, options.seconds)
        charged = asyncio.run(count_batch_trips(database_url)) - before
    return online, measured, charged


def _report(
    http: LoadResult,
    batches: LoadResult,
    batch_taps: int,
    pg: PgbenchResult,
    options: TapBenchOptions,
    ledger_mismatches: int,
) -> dict[str, Any]:
    created = http.statuses.get(201, 0)
    batch_taps_per_s = batch_taps / batches.elapsed_s if batches.elapsed_s else 0.0
    return report_header("taps") | {
        "options": {k: str(v) for k, v in asdict(options).items()},
        "http": http.figures() | {"taps_created": created},
        "batches": batches.figures()
        | {"taps_charged": batch_taps, "taps_per_s": round(batch_taps_per_s, 1)},
        "pgbench": {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(pg).items()},
        "http_vs_pgbench": round(http.throughput / pg.tps, 3) if pg.tps else None,
        "batches_vs_pgbench": round(batch_taps_per_s / pg.tps, 3) if pg.tps else None,
        "batches_vs_http": round(batch_taps_per_s / http.throughput, 3)
        if http.throughput
        else None,
        "ledger_mismatches": ledger_mismatches,
    }


def markdown(report: dict[str, Any]) -> str:
    http, pg, batches = report["http"], report["pgbench"], report["batches"]
    return "\n".join(
        [
            "| path | taps per second | p50 ms | p90 ms | p99 ms | ratio |",
            "|---|---|---|---|---|---|",
            f"| HTTP POST /api/v1/trips/start | {http['throughput_per_s']} | {http['p50_ms']} | "
            f"{http['p90_ms']} | {http['p99_ms']} | {report['http_vs_pgbench']} |",
            f"| HTTP POST /api/v1/trips/batches ({batches['requests']} batches, "
            f"{batches['taps_charged']} taps charged) | {batches['taps_per_s']} | "
            f"{batches['p50_ms']} | {batches['p90_ms']} | {batches['p99_ms']} | "
            f"{report['batches_vs_pgbench']} |",
            f"| pgbench, same SQL transaction | {pg['tps']} | {pg['p50_ms']} | {pg['p90_ms']} | "
            f"{pg['p99_ms']} | 1 |",
        ]
    )
