"""Performance regression check: every figure of a suite report against a previous one.

A figure is a number found at the same place in both reports, and its name says which way
is better: throughputs (`*per_s`), ratios to a ceiling (`vs_*`) and the capacity multiple
are better higher; latencies (`*_ms`) and memory (`*_mb`) are better lower. Counts, pids and
settings are not figures. A figure that got worse by more than the threshold is flagged.
"""

from __future__ import annotations

from typing import Any

THRESHOLD = 0.20
# What describes the run rather than measures it: sections, limits and constants.
SKIPPED = frozenset(
    {"options", "machine", "load", "dataset", "regressions", "mix"}
    | {"worker_limit_mb", "tap_p99_limit_ms", "bogota_peak_taps_per_s"}
    # PostgreSQL's summed RSS counts shared buffers once per backend: it follows the number
    # of connections, not memory use (its PSS is compared instead).
    | {"rss_sum_mb"}
)


def _direction(name: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when not a figure."""
    if name.endswith("per_s") or name.startswith("vs_") or name.startswith("multiple_of"):
        return 1
    if name.endswith("_ms") or name.endswith("_mb"):
        return -1
    return 0


def figures(report: dict[str, Any], prefix: str = "") -> dict[str, tuple[float, int]]:
    """Every figure of the report by its dotted path, with its direction."""
    found: dict[str, tuple[float, int]] = {}
    for name, value in report.items():
        path = f"{prefix}{name}"
        if name in SKIPPED:
            continue
        if isinstance(value, dict):
            found |= figures(value, f"{path}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            direction = _direction(name)
            if direction:
                found[path] = (float(value), direction)
    return found


def regressions(
    baseline: dict[str, Any], current: dict[str, Any], threshold: float = THRESHOLD
) -> list[dict[str, Any]]:
    """The figures present in both reports that got worse by more than `threshold`."""
    before, after = figures(baseline), figures(current)
    flags = []
    for path in sorted(before.keys() & after.keys()):
        (old, direction), (new, _) = before[path], after[path]
        if old <= 0:
            continue  # nothing to be a fraction of (a ceiling that measured nothing)
        change = (new - old) / old
        if -direction * change > threshold:
            flags.append(
                {
                    "figure": path,
                    "baseline": old,
                    "current": new,
                    "change_pct": round(change * 100, 1),
                    "better": "higher" if direction > 0 else "lower",
                }
            )
    return flags
