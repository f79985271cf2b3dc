"""Database connections in use, per pool, kept current by SQLAlchemy's pool events.

Why events and not a reading at scrape time: with several workers, the scrape runs in one
of them and cannot ask the others' pools, so every worker must publish its own figure. A
checkout/checkin event costs one gauge write; a periodic sampler would cost a task per
worker and miss the short peaks that exhaust a pool.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from travel_recharge.kit.metrics import DB_POOL_CAPACITY, DB_POOL_IN_USE


def observe_pool(engine: AsyncEngine, name: str) -> None:
    """Count `engine`'s checked-out connections in the in-use gauge labelled `name`, and
    publish the most it may hold (the saturation alert divides one by the other)."""
    in_use = DB_POOL_IN_USE.labels(name)
    pool = engine.sync_engine.pool
    # max_overflow -1 means no bound: then there is no saturation to report.
    if isinstance(pool, QueuePool) and pool._max_overflow >= 0:
        DB_POOL_CAPACITY.labels(name).set(pool.size() + pool._max_overflow)

    def checked_out(*_: object) -> None:
        in_use.inc()

    def checked_in(*_: object) -> None:
        # Also fired for a connection invalidated while out: the gauge comes back down.
        in_use.dec()

    # The listeners stay with the engine: dispose() recreates its pool with the same events.
    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    event.listen(engine.sync_engine.pool, "checkin", checked_in)
