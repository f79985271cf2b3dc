"""Database connections in use, per pool, kept current by SQLAlchemy's pool events.

Why events and not a reading at scrape time: with several workers, the scrape runs in one
of them and cannot ask the others' pools, so every worker must publish its own figure. A
checkout/checkin event costs one gauge write; a periodic sampler would cost a task per
worker and miss the short peaks that exhaust a pool.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from travel_recharge.kit.metrics import DB_POOL_IN_USE


def observe_pool(engine: AsyncEngine, name: str) -> None:
    """Count `engine`'s checked-out connections in the in-use gauge labelled `name`."""
    in_use = DB_POOL_IN_USE.labels(name)

    def checked_out(*_: object) -> None:
        in_use.inc()

    def checked_in(*_: object) -> None:
        # Also fired for a connection invalidated while out: the gauge comes back down.
        in_use.dec()

    # The listeners stay with the engine: dispose() recreates its pool with the same events.
    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    event.listen(engine.sync_engine.pool, "checkin", checked_in)
