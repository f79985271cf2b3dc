"""The text Prometheus scrapes: this process' registry, or every worker's files."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, values
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A sample file starts with the 4-byte length of what is used of it (mmap_dict).
_HEADER_BYTES = 4


class WrittenFilesCollector(MultiProcessCollector):
    """Every worker's sample files but those still being created: a worker starting this
    instant has made its file but not yet written its header, and reading that file would
    fail the whole scrape (struct.error) instead of counting what it has not served yet."""

    def collect(self) -> object:
        files = glob.glob(os.path.join(self._path, "*.db"))
        written = [f for f in files if _size(f) >= _HEADER_BYTES]
        return self.merge(written, accumulate=True)  # type: ignore[no-untyped-call]


def _size(file: str) -> int:
    try:
        return os.path.getsize(file)
    except OSError:
        return 0  # gone since the glob (a dead worker's gauges being dropped)


# prometheus-client leaves these two untyped; their signatures, as documented.
_collect_from: Callable[[CollectorRegistry, str], object] = WrittenFilesCollector
_mark_dead: Callable[[int, str], None] = mark_process_dead


def multiprocess_dir() -> Path | None:
    """Where the workers write their samples, when this process writes there too.

    prometheus-client picks file-backed values when it is first imported, from the
    environment at that moment; asking it (not the environment now) keeps the reading side
    consistent with the writing side, e.g. in a launcher that set the variable for its
    workers after having imported the client itself.
    """
    if values.ValueClass is values.MutexValue:
        return None
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def current_registry() -> CollectorRegistry:
    """This process' registry, or one summing every worker's files (blocking file reads on
    each collect in multiprocess mode): what /metrics and /api/v1/metrics/summary read."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    forget_dead_workers(directory)
    registry = CollectorRegistry()
    _collect_from(registry, str(directory))
    return registry


def latest() -> bytes:
    """Every metric in the Prometheus text format (blocking file reads in multiprocess mode)."""
    return generate_latest(current_registry())


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died (uvicorn restarts crashed workers).

    Their counters and histograms stay: what a dead worker served was served. Without this
    a restarted worker's connections would stay "in use" forever in the pool gauge.
    """
    for file in directory.glob("gauge_live*_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            _mark_dead(int(pid), str(directory))


def process_alive(pid: int) -> bool:
    """Whether the process with this id still runs on this machine (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A killed worker stays a zombie until its launcher reaps it; it serves nothing more.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here: trust kill()
    return stat.rpartition(")")[2].split()[0] == "Z"
