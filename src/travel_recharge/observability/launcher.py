"""The launcher's part: a fresh directory for its workers' metric files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from travel_recharge.kit.config import Settings
from travel_recharge.observability.exposition import MULTIPROC_ENV, process_alive


def metrics_root(settings: Settings) -> Path:
    """Where launchers keep their workers' metric files, one subdirectory per launcher."""
    return settings.metrics_dir or settings.data_dir / "metrics"


def prepare_metrics_dir(settings: Settings) -> Path:
    """An empty directory of this launcher's own, handed to the workers by the environment.

    Called before the workers start. Files of a previous run would otherwise be summed into
    this one (counters that jump, gauges of processes long gone). Per launcher, because
    several may share a data directory (`serve` beside a benchmark's servers) and must not
    delete or sum each other's files; directories of launchers no longer running go.
    """
    root = metrics_root(settings).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.is_dir() and old.name.isdigit() and not process_alive(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    directory = root / str(os.getpid())
    directory.mkdir(exist_ok=True)
    for file in directory.glob("*.db"):  # a reused pid's leftovers
        file.unlink(missing_ok=True)
    # Workers are separate processes: like the database URL, they learn it from the
    # environment, and prometheus-client reads it when they first import it.
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory
