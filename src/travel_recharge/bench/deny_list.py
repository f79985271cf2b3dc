"""`travel-recharge bench deny-list`: what a validator downloads, in bytes and time.

A scratch database gets `cards` cards with a share of them blocked (every hundredth, for 1%),
and the real service answers a validator: the whole list first, then, after `changes` status
changes (half of them blocks, half unblocks), the delta since the version it got. Each answer
is asked `requests` times one after the other, plain and gzipped; the bytes are those on the
wire.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from travel_recharge.bench.report import report_header, write_report
from travel_recharge.bench.server import WITHOUT_JOBS, authorization, bench_server
from travel_recharge.kit.config import Settings
from travel_recharge.kit.percentiles import percentile
from travel_recharge.kit.scratch import libpq_url, scratch_database
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.security.roles import Role

PATH = "/api/v1/cards/deny-list"


@dataclass(frozen=True)
class DenyListBenchOptions:
    cards: int = 1_000_000
    refused_every: int = 100  # every hundredth card is blocked: 1%
    changes: int = 100
    requests: int = 20
    report_dir: Path = Path("bench-reports")


def run_deny_list_bench(settings: Settings, options: DenyListBenchOptions) -> dict[str, Any]:
    assert settings.redis_url, "infrastructure() provides Redis"
    with scratch_database(settings.migration_url or "", "tr_bench_deny") as database_url:
        upgrade_to_head(database_url)
        asyncio.run(_cards(database_url, options))
        environment = WITHOUT_JOBS | {
            "TR_DATABASE_URL": database_url,
            "TR_REDIS_URL": settings.redis_url,
            "TR_CACHE_NAMESPACE": f"benchdeny{uuid.uuid4().hex[:8]}",
        }
        with (
            bench_server(environment, 1) as port,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=authorization(Role.validator)
            ) as client,
        ):
            snapshot = _measure(client, {}, options.requests)
            asyncio.run(_change(database_url, options))
            delta = _measure(client, {"since": str(snapshot["version"])}, options.requests)
    report = report_header("deny-list") | {
        "options": {k: str(v) for k, v in asdict(options).items()},
        "answers": {"snapshot": snapshot, "delta": delta},
    }
    write_report(report, markdown(report), options.report_dir)
    return report


async def _cards(database_url: str, options: DenyListBenchOptions) -> None:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await connection.execute(
            "INSERT INTO cards (card_number, card_type)"
            " SELECT lpad(n::text, 16, '0'), 'basic' FROM generate_series(1, $1::int) AS n",
            options.cards,
        )
        await connection.execute(
            "UPDATE cards SET status = 'blocked', status_reason = 'bench' WHERE id % $1 = 0",
            options.refused_every,
        )
        await connection.execute("VACUUM ANALYZE cards")
        await connection.execute("VACUUM ANALYZE deny_list_changes")
    finally:
        await connection.close()


async def _change(database_url: str, options: DenyListBenchOptions) -> None:
    """Half the changes unblock refused cards, half block usable ones: one by one, as
    operators do (each its own transaction, so each its own version)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        every = options.refused_every
        for index in range(options.changes // 2):
            await connection.execute(
                "UPDATE cards SET status = 'active', status_reason = NULL WHERE id = $1",
                every * (index + 1),
            )
            await connection.execute(
                "UPDATE cards SET status = 'blocked', status_reason = 'bench' WHERE id = $1",
                every * (index + 1) + 1,
            )
    finally:
        await connection.close()


def _measure(client: httpx.Client, params: dict[str, str], requests: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for encoding in ("identity", "gzip"):
        latencies, sizes, answer = [], set(), None
        for _ in range(requests):
            response = client.get(PATH, params=params, headers={"Accept-Encoding": encoding})
            response.raise_for_status()
            latencies.append(response.elapsed.total_seconds())
            sizes.add(response.num_bytes_downloaded)
            answer = response.json()
        assert answer is not None
        assert len(sizes) == 1, f"the same answer each time, not {sorted(sizes)} bytes"
        figures[encoding] = {
            "bytes": sizes.pop(),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p90_ms": round(percentile(latencies, 0.90) * 1000, 2),
        }
        figures |= {
            "kind": answer["kind"],
            "version": answer["version"],
            "added": len(answer["added"]),
            "removed": len(answer["removed"]),
        }
    return figures


def markdown(report: dict[str, Any]) -> str:
    options = report["options"]
    lines = [
        f"{int(options['cards']):,} cards, every {options['refused_every']}th blocked; "
        f"{options['changes']} changes between the snapshot and the delta; "
        f"{options['requests']} requests per answer and encoding.",
        "",
        "| answer | cards added | cards removed | bytes | gzipped bytes | p50 ms | p90 ms "
        "| gzipped p50 ms | gzipped p90 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, a in report["answers"].items():
        plain, zipped = a["identity"], a["gzip"]
        lines.append(
            f"| {name} | {a['added']:,} | {a['removed']:,} | {plain['bytes']:,} | "
            f"{zipped['bytes']:,} | {plain['p50_ms']} | {plain['p90_ms']} | "
            f"{zipped['p50_ms']} | {zipped['p90_ms']} |"
        )
    return "\n".join(lines)
