"""`bench suite` end to end on tiny inputs: a complete report (its figures are not asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ServerUrls, make_settings
from travel_recharge.bench.regression import regressions
from travel_recharge.bench.suite import SuiteOptions, run_suite
from travel_recharge.bench.suite_report import markdown
from travel_recharge.bench.workloads import READS

pytestmark = pytest.mark.e2e

LATENCIES = ("p50_ms", "p90_ms", "p99_ms")


def test_suite_reports_workloads_beside_ceilings_capacity_and_memory(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    options = SuiteOptions(
        clients=2,
        seconds=0.5,
        warmup_seconds=0.2,
        workers=1,
        cards=200,
        steps=(1, 2),
        step_seconds=0.5,
        report_dir=tmp_path,
    )
    report = run_suite(make_settings(test_servers), options)

    assert report["ledger_mismatches"] == 0
    assert report["command"].startswith("travel-recharge bench suite --clients 2 ")
    workloads = report["workloads"]
    assert list(workloads) == [
        *(f"GET {read.path}" for read in READS),
        "POST /api/v1/trips/start",
        "POST /api/v1/cards/recharge",
        "mixed",
    ]
    for name, w in workloads.items():
        assert w["requests"] > 0, name
        assert w["throughput_per_s"] > 0, name
        assert w["non_2xx"] == 0, (name, w["statuses"])
        assert 0 < w["p50_ms"] <= w["p90_ms"] <= w["p99_ms"], name
    assert set(workloads["POST /api/v1/cards/recharge"]["statuses"]) == {"201"}
    assert sum(workloads["mixed"]["mix"].values()) == 100

    ceilings = report["ceilings"]
    assert ceilings["pgbench_tap"]["available"]
    assert ceilings["pgbench_tap"]["failed"] == 0
    assert ceilings["bare_fastapi"]["available"]
    assert ceilings["bare_fastapi"]["non_2xx"] == 0
    # redis-benchmark may be missing on a machine: then the ceiling says why and ratios are None.
    redis_get = ceilings["redis_get"]
    assert redis_get["available"] or redis_get["reason"]
    if shutil.which("redis-benchmark") and test_servers.redis_url.startswith("redis://"):
        assert redis_get["available"], redis_get
    for name, w in workloads.items():
        ratios = {k: v for k, v in w.items() if k.startswith("vs_")}
        assert ratios, name
        for ceiling, ratio in ratios.items():
            if ceilings[ceiling.removeprefix("vs_")]["available"]:
                assert ratio > 0, (name, ceiling)
            else:
                assert ratio is None, (name, ceiling)

    capacity = report["capacity"]
    assert [step["clients"] for step in capacity["steps"].values()][:1] == [1]
    assert capacity["bogota_peak_taps_per_s"] == 111.1
    assert capacity["multiple_of_bogota_peak"] == round(capacity["sustained_taps_per_s"] / 111.1, 1)
    pgbench_tps = ceilings["pgbench_tap"]["throughput_per_s"]
    assert capacity["vs_pgbench_tap"] == round(capacity["sustained_taps_per_s"] / pgbench_tps, 3)

    stall = report["stall"]
    assert (stall["path"], stall["clients"], stall["limit"]) == (
        "/api/v1/stations/02000/details",
        16,
        3.0,
    )
    assert stall["non_2xx"] == 0
    assert stall["requests"] > 0
    assert stall["p99_over_p50"] == round(stall["p99_ms"] / stall["p50_ms"], 2)
    assert stall["ok"] == (stall["p99_over_p50"] <= 3.0)

    service = report["memory"]["service"]
    assert service["serving"] == ["launcher"]  # one worker: the launcher serves
    assert service["processes"]["launcher"]["rss_mb"] > 0
    for part in ("postgresql", "redis"):
        assert "available" in report["memory"][part]
    assert report["regressions"] is None

    assert json.loads(next(tmp_path.glob("suite-*.json")).read_text()) == report
    saved = next(tmp_path.glob("suite-*.md")).read_text()
    for heading in ("| workload |", "| ceiling |", "**Capacity", "| process |", "Ledger"):
        assert heading in saved

    # The same report against a baseline twice as fast is flagged, figure by figure.
    faster = json.loads(json.dumps(report))
    taps = faster["workloads"]["POST /api/v1/trips/start"]
    taps["throughput_per_s"] *= 2
    report["regressions"] = {
        "baseline": "faster.json",
        "baseline_at": faster["at"],
        "threshold_pct": 20,
        "flags": regressions(faster, report),
    }
    assert [f["figure"] for f in report["regressions"]["flags"]] == [
        "workloads.POST /api/v1/trips/start.throughput_per_s"
    ]
    assert "| `workloads.POST /api/v1/trips/start.throughput_per_s` |" in markdown(report)
