"""Figures only the database can tell, published as gauges for the alert rules
(deploy/prometheus/alerts.yml): ledger mismatches, how long tap deltas wait for the rollup
folder, and the replica's lag.

One worker per launcher measures them, the one holding an exclusive lock on a file in the
launcher's metrics directory: every worker would ask the same questions for the same answers,
and the ledger check reads the whole ledger. When that worker dies its gauges go with it
(exposition.forget_dead_workers) and another worker takes the lock on its next round. Several
launchers (machines) each measure: the rules take the maximum over them.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from travel_recharge.analytics.service import oldest_pending_delta
from travel_recharge.finance.service import count_ledger_mismatches
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.metrics import (
    DB_REPLICA_DOWN,
    DB_REPLICA_LAG_BYTES,
    DB_REPLICA_LAG_SECONDS,
    LEDGER_MISMATCHED_CARDS,
    ROLLUP_FOLD_LAG,
)
from travel_recharge.observability.exposition import multiprocess_dir
from travel_recharge.ops.database_health import check_database

logger = logging.getLogger("travel_recharge.ops")


class ProbeDuty:
    """Whether this worker is the launcher's one that measures (a non-blocking file lock).

    Without a metrics directory the process is alone (tests, tools): it measures.
    """

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._held_fd: int | None = None

    def held(self) -> bool:
        if self._directory is None or self._held_fd is not None:
            return True
        fd = os.open(self._directory / "probes.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._held_fd = fd  # kept open for the worker's life: the lock lasts as long
        return True


class FoldLag:
    """Seconds the oldest pending delta has waited, from successive sightings of its id.

    The folder moves every pending delta at once, so while the same id stays the oldest
    nothing was folded since it was first seen. A delta's own time is its tap's (an offline
    validator's taps arrive late), not when it was written, so no column tells its wait.
    Resolution: one probe interval.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._oldest: int | None = None
        self._seen_at = 0.0

    def observe(self, oldest_id: int | None) -> float:
        now = self._clock()
        if oldest_id != self._oldest:
            self._oldest, self._seen_at = oldest_id, now
        return 0.0 if oldest_id is None else now - self._seen_at


async def measure_replica(database: Database, settings: Settings) -> None:
    replica = (await check_database(database, settings.db_health_timeout_s)).replica
    down = replica is not None and replica.status == "down"
    DB_REPLICA_DOWN.set(int(down))
    # While the replica is down its lag is unknown: 0 here, and the down alert speaks.
    DB_REPLICA_LAG_BYTES.set(0 if replica is None else replica.lag_bytes or 0)
    DB_REPLICA_LAG_SECONDS.set(0 if replica is None else replica.lag_s or 0)


async def measure_fold_lag(database: Database, lag: FoldLag) -> None:
    async with database.write_sessions() as session:  # the primary, see oldest_pending_delta
        ROLLUP_FOLD_LAG.set(lag.observe(await oldest_pending_delta(session)))


async def check_ledger(database: Database) -> None:
    async with database.read_sessions() as session:
        LEDGER_MISMATCHED_CARDS.set(await count_ledger_mismatches(session))


async def _guarded(name: str, measure: Awaitable[None]) -> None:
    # The database may be down: this figure waits for the next round, the others go on.
    try:
        await measure
    except Exception as exc:
        log_event(logger, "probes.failed", logging.WARNING, probe=name, error=type(exc).__name__)


async def probe_forever(database: Database, settings: Settings) -> None:
    """Measure every `metrics_probe_interval_s`, the ledger every `ledger_check_interval_s`."""
    duty = ProbeDuty(multiprocess_dir())
    fold_lag = FoldLag()
    ledger_due = 0.0
    while True:
        if duty.held():
            await _guarded("replica", measure_replica(database, settings))
            await _guarded("rollups", measure_fold_lag(database, fold_lag))
            if settings.ledger_check_interval_s > 0 and time.monotonic() >= ledger_due:
                ledger_due = time.monotonic() + settings.ledger_check_interval_s
                await _guarded("ledger", check_ledger(database))
        await asyncio.sleep(settings.metrics_probe_interval_s)
