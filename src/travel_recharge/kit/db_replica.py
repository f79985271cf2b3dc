"""Read sessions on the replica while it answers, on the primary while it does not.

Read-only queries (analytics, reference data) take the replica, so the primary keeps its
capacity for taps and recharges. A replica that does not answer (refused, timed out, still
starting, gone from under a pooled connection) must not fail those reads: they go to the
primary instead. It is then left alone for a short while (TR_DB_REPLICA_DOWN_S) rather than
tried again by every request, each paying a refused connect or a connect timeout; when the
while is over one request probes it (the others stay on the primary meanwhile), and reads
come back to the replica as soon as it answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from travel_recharge.kit.db_failures import server_unreachable
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.db")


class ReadSessions:
    """Call it like a sessionmaker: `async with read_sessions() as session: ...`."""

    def __init__(
        self,
        primary: AsyncEngine,
        replica: AsyncEngine | None,
        *,
        down_for_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = async_sessionmaker(primary, expire_on_commit=False)
        self._replica = (
            async_sessionmaker(replica, expire_on_commit=False) if replica is not None else None
        )
        self._down_for_s = down_for_s
        self._clock = clock
        # 0: the replica answered last time. Otherwise reads skip it until this instant.
        self._down_until = 0.0

    @property
    def replica_down(self) -> bool:
        """Whether reads are being sent to the primary because the replica did not answer."""
        return self._down_until != 0.0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        session = await self._open()
        async with session:
            yield session

    async def _open(self) -> AsyncSession:
        if self._replica is None or not self._replica_turn():
            return self._primary()
        session = self._replica()
        try:
            # Connect now rather than at the first statement: here a replica that does not
            # answer costs nothing but the attempt, and the primary can still take the read.
            await session.connection()
        except Exception as exc:
            await session.close()
            if not server_unreachable(exc):
                raise
            self._mark_down(exc)
            return self._primary()
        if self._down_until:
            self._down_until = 0.0
            log_event(logger, "database.replica_back")
        return session

    def _replica_turn(self) -> bool:
        if not self._down_until:
            return True
        now = self._clock()
        if now < self._down_until:
            return False
        # This caller probes; until it knows, the others keep reading from the primary.
        self._down_until = now + self._down_for_s
        return True

    def _mark_down(self, exc: BaseException) -> None:
        if not self._down_until:
            log_event(
                logger,
                "database.replica_down",
                error=type(exc).__name__,
                reads_on_primary_s=self._down_for_s,
            )
        self._down_until = self._clock() + self._down_for_s
