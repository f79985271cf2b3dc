"""The suite's report in Markdown: the tables the README keeps, with machine and command."""

from __future__ import annotations

from typing import Any

CEILING_NAMES = {
    "redis_get": "redis-benchmark GET, same Redis",
    "pgbench_tap": "pgbench, tap SQL transaction, same database",
    "bare_fastapi": "bare FastAPI GET, same workers/loop/http",
}


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)


def _row(*cells: Any) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _machine(report: dict[str, Any]) -> list[str]:
    machine, load, options = report["machine"], report["load"], report["options"]
    before = ", ".join(f"{x:.2f}" for x in load["before"])
    return [
        f"Machine: {machine['cpus']} CPUs {machine['arch']}, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}; load average before the run {before} (1, 5, 15 min).",
        f"Command: `{report['command']}` — {options['workers']} workers, "
        f"{options['clients']} clients, {options['seconds']} s per workload, "
        f"{report['dataset']['tap_cards']:,} tap cards.",
    ]


def _workloads(report: dict[str, Any]) -> list[str]:
    lines = [
        "| workload | role | requests | per second | p50 ms | p90 ms | p99 ms | non-2xx "
        "| vs bare FastAPI | vs pgbench | vs redis GET |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, w in report["workloads"].items():
        lines.append(
            _row(
                name,
                w.get("role", "mix"),
                w["requests"],
                w["throughput_per_s"],
                w["p50_ms"],
                w["p90_ms"],
                w["p99_ms"],
                w["non_2xx"],
                w.get("vs_bare_fastapi"),
                w.get("vs_pgbench_tap"),
                w.get("vs_redis_get"),
            )
        )
    return lines


def _ceilings(report: dict[str, Any]) -> list[str]:
    lines = ["| ceiling | per second | p50 ms | p90 ms | p99 ms |", "|---|---|---|---|---|"]
    for name, c in report["ceilings"].items():
        if not c["available"]:
            lines.append(_row(CEILING_NAMES[name], f"unavailable: {c['reason']}", "", "", ""))
            continue
        lines.append(
            _row(
                f"{CEILING_NAMES[name]} ({c['clients']} clients)",
                c["throughput_per_s"],
                c["p50_ms"],
                c["p90_ms"],
                c["p99_ms"],
            )
        )
    return lines


def _capacity(report: dict[str, Any]) -> list[str]:
    capacity = report["capacity"]
    limit = capacity["tap_p99_limit_ms"]
    lines = [
        f"| tap clients | taps/s | p99 ms | non-2xx | p99 ≤ {limit} ms |",
        "|---|---|---|---|---|",
    ]
    for step in capacity["steps"].values():
        lines.append(
            _row(
                step["clients"],
                step["throughput_per_s"],
                step["p99_ms"],
                step["non_2xx"],
                "yes" if step["within_limit"] else "no",
            )
        )
    peak = (
        f"Bogotá's peak-hour load** ({capacity['bogota_assumption']}: "
        f"~{capacity['bogota_peak_taps_per_s']} taps/s)."
    )
    if capacity["at_clients"] is None:
        return [*lines, "", f"**No step kept p99 ≤ {limit} ms: 0× {peak}"]
    return [
        *lines,
        "",
        f"**Capacity: {capacity['sustained_taps_per_s']} taps/s sustained with p99 ≤ {limit} ms "
        f"(at {capacity['at_clients']} clients) = {capacity.get('vs_pgbench_tap')} of pgbench's "
        f"tap transaction = {capacity['multiple_of_bogota_peak']}× {peak}",
    ]


def _stall(report: dict[str, Any]) -> list[str]:
    stall = report.get("stall")
    if not stall:
        return []
    verdict = "ok" if stall["ok"] else f"over {stall['limit']}×"
    return [
        f"Periodic stalls: one worker, {stall['clients']} clients, GET {stall['path']} from "
        f"Redis: {stall['throughput_per_s']}/s, p50 {stall['p50_ms']} ms, p99 {stall['p99_ms']} "
        f"ms, p99/p50 = {stall['p99_over_p50']} ({verdict})."
    ]


def _external(name: str, part: dict[str, Any], rss: str, note: str) -> str:
    """A server we did not start: its figures, or why they could not be read."""
    if not part["available"]:
        return _row(name, None, part["reason"])
    return _row(name, part[rss], note.format(**{k: _cell(v) for k, v in part.items()}))


def _memory(report: dict[str, Any]) -> list[str]:
    memory = report["memory"]
    service = memory["service"]
    limit = service["worker_limit_mb"]
    lines = ["| process | RSS MB | note |", "|---|---|---|"]
    for name, process in service["processes"].items():
        note = ""
        if name in service["serving"]:
            note = f"**over {limit} MB**" if name in service["workers_over_limit"] else "ok"
            note += f" (target < {limit} MB per worker)"
        lines.append(_row(f"service {name}", process["rss_mb"], note))
    lines.append(
        _external(
            "PostgreSQL",
            memory["postgresql"],
            "rss_sum_mb",
            "RSS of {processes} processes, shared buffers counted in each; "
            "PSS (shared pages split among them) {pss_sum_mb} MB",
        )
    )
    lines.append(
        _external(
            "Redis",
            memory["redis"],
            "process_rss_mb",
            "used_memory_rss {used_memory_rss_mb} MB, used_memory {used_memory_mb} MB",
        )
    )
    bare = report["ceilings"]["bare_fastapi"]
    if bare["available"]:
        lines.append(
            _row("bare FastAPI (all processes)", bare["memory"]["total_rss_mb"], "reference")
        )
    return lines


def _regressions(report: dict[str, Any]) -> list[str]:
    check = report["regressions"]
    if check is None:
        return ["No baseline given: no regression check."]
    head = (
        f"Against {check['baseline']} ({check['baseline_at']}), "
        f"threshold {check['threshold_pct']}%:"
    )
    if not check["flags"]:
        return [head + " no figure got worse."]
    lines = [head, "", "| figure | baseline | now | change | better |", "|---|---|---|---|---|"]
    for flag in check["flags"]:
        lines.append(
            _row(
                f"`{flag['figure']}`",
                flag["baseline"],
                flag["current"],
                f"{flag['change_pct']:+}%",
                flag["better"],
            )
        )
    return lines


def _front(report: dict[str, Any]) -> list[str]:
    front = report.get("front")
    if not front:
        return []
    lines = [
        f"Through the cluster's front ({front['url']}: HAProxy, API nodes, Patroni leader with "
        "a synchronous standby, Redis through Sentinel), same clients and seconds:",
        "",
        "| workload | per second | p50 ms | p90 ms | p99 ms | non-2xx | vs one node "
        "| CPU ms per request, by role |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, w in front["workloads"].items():
        lines.append(
            _row(
                name,
                w["throughput_per_s"],
                w["p50_ms"],
                w["p90_ms"],
                w["p99_ms"],
                w["non_2xx"],
                w["vs_single_node"],
                ", ".join(f"{role} {ms}" for role, ms in w["cpu_ms_per_request"].items()),
            )
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    sections = [
        _machine(report),
        ["Workloads, one server, the load generator on the same machine:", "", *_workloads(report)],
        ["Ceilings, measured in the same run (the service stopped):", "", *_ceilings(report)],
        _capacity(report),
        _stall(report),
        ["Resident memory at the end of the mixed run:", "", *_memory(report)],
        [f"Ledger mismatches after the run: {report['ledger_mismatches']}."],
        _front(report),
        _regressions(report),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections)
