"""Benchmark reports: JSON for machines, Markdown for the README, named by time."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil


def report_header(name: str) -> dict[str, Any]:
    return {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "arch": platform.machine(),
            "python": sys.version.split()[0],
        },
    }


def write_report(report: dict[str, Any], markdown: str, directory: Path) -> Path:
    """Writes <name>-<time>.json and .md under `directory`; returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = report["at"].replace(":", "").replace("-", "")
    stem = directory / f"{report['benchmark']}-{stamp}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    stem.with_suffix(".md").write_text(markdown + "\n")
    return stem.with_suffix(".json")
