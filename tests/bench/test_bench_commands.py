"""The benchmarks run end to end on tiny inputs (their figures are not asserted, their shape is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ServerUrls, make_settings
from travel_recharge.bench.deny_list import DenyListBenchOptions, run_deny_list_bench
from travel_recharge.bench.reads import ReadBenchOptions, run_read_bench
from travel_recharge.bench.taps import TapBenchOptions, markdown, run_tap_bench
from travel_recharge.ops.cache.performance import READ_ENDPOINTS as ENDPOINTS

pytestmark = pytest.mark.e2e


def test_tap_bench_reports_http_beside_pgbench(test_servers: ServerUrls, tmp_path: Path) -> None:
    options = TapBenchOptions(
        clients=4, seconds=1, warmup_seconds=1, cards=200, workers=1, report_dir=tmp_path
    )
    report = run_tap_bench(make_settings(test_servers), options)

    assert report["ledger_mismatches"] == 0
    assert report["http"]["taps_created"] > 0
    assert set(report["http"]["statuses"]) == {"201"}
    assert report["pgbench"]["transactions"] > 0
    assert report["pgbench"]["failed"] == 0
    assert report["http_vs_pgbench"] > 0
    # Batches of 100 (the cards of the range), every tap of each charged.
    batches = report["batches"]
    assert set(batches["statuses"]) == {"200"}
    assert batches["taps_charged"] == 100 * batches["requests"] > 0
    assert report["batches_vs_pgbench"] > 0
    saved = json.loads(next(tmp_path.glob("taps-*.json")).read_text())
    assert saved == report
    assert "| HTTP POST /api/v1/trips/start |" in markdown(report)
    assert "| HTTP POST /api/v1/trips/batches (" in markdown(report)


def test_read_bench_measures_every_endpoint_warm_and_cold(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    options = ReadBenchOptions(clients=2, seconds=0.3, workers=1, report_dir=tmp_path)
    report = run_read_bench(make_settings(test_servers), options)

    assert [row["endpoint"] for row in report["endpoints"]][: len(ENDPOINTS)] == list(ENDPOINTS)
    for row in report["endpoints"]:
        for side in ("warm", "cold"):
            assert row[side]["per_s"] > 0, row
            assert row[side]["non_2xx"] == 0, row
    assert next(tmp_path.glob("reads-*.md")).read_text().startswith("Trips in the database")


def test_deny_list_bench_measures_a_snapshot_then_a_delta(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    options = DenyListBenchOptions(
        cards=5_000, refused_every=20, changes=30, requests=2, report_dir=tmp_path
    )
    report = run_deny_list_bench(make_settings(test_servers), options)

    snapshot, delta = report["answers"]["snapshot"], report["answers"]["delta"]
    assert (snapshot["kind"], snapshot["added"], snapshot["removed"]) == ("snapshot", 250, 0)
    assert (delta["kind"], delta["added"], delta["removed"]) == ("delta", 15, 15)
    assert delta["version"] == snapshot["version"] + 30  # one version per change
    # 250 ids are ~1.5 kB: gzip applies; the delta's 30 ids stay under its minimum.
    assert snapshot["gzip"]["bytes"] < snapshot["identity"]["bytes"]
    assert delta["gzip"]["bytes"] == delta["identity"]["bytes"]
    assert next(tmp_path.glob("deny-list-*.md")).read_text().startswith("5,000 cards")
