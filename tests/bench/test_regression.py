"""The regression check and the ratios, on hand-made reports (no server, no database)."""

from __future__ import annotations

import copy
from typing import Any

from travel_recharge.bench.ceilings import unavailable
from travel_recharge.bench.regression import figures, regressions
from travel_recharge.bench.suite import REGRESSION_EXIT, exit_code, with_ratios


def _report() -> dict[str, Any]:
    return {
        "benchmark": "suite",
        "options": {"clients": "32", "seconds": "10.0"},
        "workloads": {
            "POST /api/v1/trips/start": {
                "requests": 10_000,
                "statuses": {"201": 10_000},
                "throughput_per_s": 1000.0,
                "p50_ms": 10.0,
                "p90_ms": 20.0,
                "p99_ms": 40.0,
                "vs_pgbench_tap": 0.5,
            }
        },
        "ceilings": {
            "redis_get": {"available": True, "throughput_per_s": 80_000.0, "p90_ms": None},
            "bare_fastapi": {"available": False, "reason": "not here"},
        },
        "capacity": {
            "tap_p99_limit_ms": 50.0,
            "steps": {"4 clients": {"clients": 4, "within_limit": True, "p99_ms": 8.0}},
            "multiple_of_bogota_peak": 10.0,
            "bogota_peak_taps_per_s": 111.1,
        },
        "memory": {
            "service": {
                "worker_limit_mb": 200,
                "processes": {"worker 1": {"pid": 7, "rss_mb": 150.0}},
            }
        },
        "ledger_mismatches": 0,
        "regressions": None,
    }


def test_figures_have_a_direction_and_leave_out_counts_settings_and_constants() -> None:
    found = figures(_report())

    assert found["workloads.POST /api/v1/trips/start.throughput_per_s"] == (1000.0, 1)
    assert found["workloads.POST /api/v1/trips/start.vs_pgbench_tap"] == (0.5, 1)
    assert found["workloads.POST /api/v1/trips/start.p99_ms"] == (40.0, -1)
    assert found["memory.service.processes.worker 1.rss_mb"] == (150.0, -1)
    assert found["capacity.multiple_of_bogota_peak"] == (10.0, 1)
    assert found["capacity.steps.4 clients.p99_ms"] == (8.0, -1)
    for left_out in (
        "workloads.POST /api/v1/trips/start.requests",
        "ceilings.redis_get.p90_ms",  # None: not measured
        "capacity.tap_p99_limit_ms",  # a setting
        "capacity.bogota_peak_taps_per_s",  # a constant
        "memory.service.worker_limit_mb",
        "memory.service.processes.worker 1.pid",
        "ledger_mismatches",
    ):
        assert left_out not in found


def test_every_figure_more_than_20_percent_worse_is_flagged_and_only_those() -> None:
    baseline, current = _report(), _report()
    taps = current["workloads"]["POST /api/v1/trips/start"]
    taps["throughput_per_s"] = 790.0  # -21%: worse
    taps["p50_ms"] = 12.0  # +20% exactly: not more than 20%
    taps["p90_ms"] = 15.0  # better
    taps["p99_ms"] = 49.0  # +22.5%: worse
    taps["vs_pgbench_tap"] = 0.45  # -10%
    taps["requests"] = 1  # a count, not a figure
    current["ceilings"]["redis_get"]["throughput_per_s"] = 100_000.0  # better
    current["memory"]["service"]["processes"]["worker 1"] |= {"pid": 9, "rss_mb": 190.0}  # +27%
    current["capacity"]["tap_p99_limit_ms"] = 100.0  # a setting changed: not a regression
    current["capacity"]["multiple_of_bogota_peak"] = 7.9  # -21%

    flags = regressions(baseline, current)

    assert {flag["figure"]: flag["change_pct"] for flag in flags} == {
        "workloads.POST /api/v1/trips/start.throughput_per_s": -21.0,
        "workloads.POST /api/v1/trips/start.p99_ms": 22.5,
        "memory.service.processes.worker 1.rss_mb": 26.7,
        "capacity.multiple_of_bogota_peak": -21.0,
    }
    p99 = next(flag for flag in flags if flag["figure"].endswith("p99_ms"))
    assert p99 == {
        "figure": "workloads.POST /api/v1/trips/start.p99_ms",
        "baseline": 40.0,
        "current": 49.0,
        "change_pct": 22.5,
        "better": "lower",
    }


def test_unchanged_missing_and_zero_baseline_figures_are_not_flagged() -> None:
    baseline, current = _report(), copy.deepcopy(_report())
    assert regressions(baseline, current) == []

    del current["workloads"]["POST /api/v1/trips/start"]  # a workload that is gone
    baseline["capacity"]["multiple_of_bogota_peak"] = 0.0  # nothing to be a fraction of
    current["capacity"]["multiple_of_bogota_peak"] = 0.0
    current["ceilings"]["bare_fastapi"] = {"available": True, "throughput_per_s": 1.0}  # new

    assert regressions(baseline, current) == []


def test_exit_code_says_ledger_first_then_regressions() -> None:
    report = _report()
    assert exit_code(report) == 0
    report["regressions"] = {"flags": []}
    assert exit_code(report) == 0
    report["regressions"] = {"flags": [{"figure": "x"}]}
    assert exit_code(report) == REGRESSION_EXIT == 3
    report["ledger_mismatches"] = 2
    assert exit_code(report) == 1


def test_ratios_are_fractions_of_each_ceiling_or_none_when_it_is_unavailable() -> None:
    workloads = {
        "GET /x": {"kind": "read", "throughput_per_s": 100.0},
        "POST /t": {"kind": "tap", "throughput_per_s": 300.0},
        "mixed": {"kind": "mixed", "throughput_per_s": 200.0},
    }
    found = {
        "bare_fastapi": {"available": True, "throughput_per_s": 400.0},
        "redis_get": unavailable("redis-benchmark is not installed"),
        "pgbench_tap": {"available": True, "throughput_per_s": 600.0},
    }

    ratios = with_ratios(workloads, found)

    assert {k: v for k, v in ratios["GET /x"].items() if k.startswith("vs_")} == {
        "vs_bare_fastapi": 0.25,
        "vs_redis_get": None,
    }
    assert ratios["POST /t"]["vs_pgbench_tap"] == 0.5
    assert ratios["mixed"]["vs_bare_fastapi"] == 0.5
    assert "vs_pgbench_tap" not in ratios["mixed"]
