"""Database engines, sessions and the request's commit boundary.

Writes go through the primary; read-only queries take the read session, which points at
TR_DATABASE_REPLICA_URL when one is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar, TypeVarTuple

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.engine import Result, ScalarResult, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Select

from travel_recharge.kit.config import Settings
from travel_recharge.kit.pool_metrics import observe_pool

AfterCommit = Callable[[], Awaitable[None]]
E = TypeVar("E")
Ts = TypeVarTuple("Ts")


class ReadSession(Protocol):
    """A session that may only read: SELECT statements and get(), nothing else.

    Read paths (the cached views, the replica) are typed with it, so mypy refuses a write
    through them: no add(), flush() or commit(), and an UPDATE, INSERT or DELETE statement is
    not a Select. A write session (AsyncSession) is one too, so reading helpers serve both.
    """

    async def execute(self, statement: Select[*Ts]) -> Result[*Ts]: ...

    async def scalar(self, statement: Select[E]) -> E | None: ...

    async def scalars(self, statement: Select[E]) -> ScalarResult[E]: ...

    async def get(self, entity: type[E], ident: Any) -> E | None: ...


def async_database_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as libpq tools use them) and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}; use postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def create_engine(
    url: str, settings: Settings, *, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    return create_async_engine(
        async_database_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=False,
        connect_args={
            "timeout": settings.db_pool_timeout_s,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "travel-recharge",
            },
        },
    )


@dataclass
class Database:
    """The engines of one worker process."""

    primary: AsyncEngine
    replica: AsyncEngine | None
    # One connection of its own for health checks: when requests hold every connection of
    # the primary pool, the database is busy, not down, and a load balancer must hear so.
    health: AsyncEngine | None = None
    write_sessions: async_sessionmaker[AsyncSession] = field(init=False)
    read_sessions: async_sessionmaker[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.write_sessions = async_sessionmaker(self.primary, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(
            self.replica or self.primary, expire_on_commit=False
        )
        observe_pool(self.primary, "primary")
        if self.replica is not None:
            observe_pool(self.replica, "replica")

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if not settings.database_url:
            raise RuntimeError(
                "TR_DATABASE_URL is not set (the launcher sets it for embedded PostgreSQL)"
            )
        replica = (
            create_engine(settings.database_replica_url, settings)
            if settings.database_replica_url
            else None
        )
        return cls(
            primary=create_engine(settings.database_url, settings),
            replica=replica,
            health=create_engine(settings.database_url, settings, pool_size=1, max_overflow=0),
        )

    async def dispose(self) -> None:
        for engine in (self.primary, self.replica, self.health):
            if engine is not None:
                await engine.dispose()


class CommitHooks(Protocol):
    """Anything that runs work after its transaction commits (cache invalidation)."""

    def after_commit(self, hook: AfterCommit) -> None: ...


class UnitOfWork:
    """One request's write transaction plus the work that must follow a successful commit.

    Cache invalidations are registered here so they run after the commit, never before
    (a reader could otherwise refill the cache with the old value).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        self._after_commit.append(hook)

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            await hook()


class DriverTransaction:
    """A write transaction on the asyncpg connection itself, for the hot writes (taps, recharges).

    Same pool and same commit boundary as UnitOfWork, without the ORM session and the
    greenlet hop SQLAlchemy's async layer adds to every statement (measured: most of the
    difference between HTTP taps and pgbench running the same SQL; see the README).
    """

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        self._after_commit.append(hook)

    async def run_hooks(self) -> None:
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            await hook()


async def driver_in(session: AsyncSession) -> DriverTransaction:
    """A DriverTransaction inside the session's own transaction, on its connection: for work
    that mixes the ORM with a hot path written for the driver (the simulator funding its
    riders). The session's commit commits both; the caller then runs the unit's hooks."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return DriverTransaction(driver)


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_database(request: Request) -> Database:
    # async: FastAPI runs plain-def dependencies in a thread pool, a costly hop per request.
    return database_of(request)


async def _unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with database_of(request).write_sessions() as session:
        uow = UnitOfWork(session)
        yield uow
        # Reached only when the endpoint returned normally: the commit (and its hooks)
        # completes before the response is sent, because the dependency has function scope.
        await uow.commit()


async def _driver_transaction(request: Request) -> AsyncIterator[DriverTransaction]:
    async with database_of(request).primary.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        transaction = driver.transaction()
        await transaction.start()
        unit = DriverTransaction(driver)
        try:
            yield unit
        except BaseException:
            # Also on cancellation: the connection must not go back to the pool mid-transaction.
            await transaction.rollback()
            raise
        await transaction.commit()
        await unit.run_hooks()


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with database_of(request).read_sessions() as session:
        yield session


async def _primary_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Views that must reflect the caller's own acknowledged writes (a card's balance right
    # after a tap) read the primary: a replica may lag behind the commit.
    async with database_of(request).write_sessions() as session:
        yield session


DriverTransactionDep = Annotated[DriverTransaction, Depends(_driver_transaction, scope="function")]
UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(_read_session, scope="function")]
PrimaryReadSessionDep = Annotated[ReadSession, Depends(_primary_read_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
