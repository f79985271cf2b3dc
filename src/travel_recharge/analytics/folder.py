"""The rollup folder: moves tap deltas into the analytics rollups every second.

Every worker runs the loop; the SQL function takes a PostgreSQL advisory lock, so exactly one
fold runs at a time across all workers and machines and the others skip that round.
"""

from __future__ import annotations

import asyncio
import logging

from travel_recharge.kit.db import Database
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.analytics")


async def fold_deltas(database: Database) -> int:
    """Fold the pending deltas now; returns how many taps and trip ends were folded."""
    async with database.primary.begin() as connection:
        result = await connection.exec_driver_sql("SELECT fold_rollup_deltas()")
        return int(result.scalar_one())


async def fold_forever(database: Database, interval_s: float) -> None:
    while True:
        try:
            folded = await fold_deltas(database)
            if folded:
                log_event(logger, "rollups.folded", logging.DEBUG, deltas=folded)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be down: try again next round
            log_event(logger, "rollups.fold_failed", logging.WARNING, error=type(exc).__name__)
        await asyncio.sleep(interval_s)
