"""Database engines, sessions and the request's commit boundary.

Writes go through the primary; read-only queries take the read session, which points at
TR_DATABASE_REPLICA_URL when one is configured and answers (db_replica). No pooled
connection that died with its server is handed out as alive (db_connections); a failure
that means "the database is gone" answers 503, never 500 (db_failures, errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar, TypeVarTuple

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.engine import Result, ScalarResult, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Select

from travel_recharge.kit.config import Settings
from travel_recharge.kit.db_connections import discard, guard_pool
from travel_recharge.kit.db_failures import connection_lost
from travel_recharge.kit.db_replica import ReadSessions
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


class SessionFactory(Protocol):
    """Makes sessions like a sessionmaker: `async with factory() as session: ...`."""

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]: ...


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
    url: str,
    settings: Settings,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    connect_timeout_s: float | None = None,
) -> AsyncEngine:
    engine = create_async_engine(
        async_database_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        # Dead connections are caught without a round trip per checkout: db_connections.
        pool_pre_ping=False,
        connect_args={
            "timeout": connect_timeout_s or settings.db_pool_timeout_s,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "travel-recharge",
            },
        },
    )
    guard_pool(engine)
    return engine


@dataclass
class Database:
    """The engines of one worker process."""

    primary: AsyncEngine
    replica: AsyncEngine | None
    # One connection of its own for health checks: when requests hold every connection of
    # the primary pool, the database is busy, not down, and a load balancer must hear so.
    health: AsyncEngine | None = None
    # The same for the replica's health (its reachability and lag).
    replica_health: AsyncEngine | None = None
    # How long reads stay on the primary after the replica did not answer.
    replica_down_s: float = 5.0
    write_sessions: async_sessionmaker[AsyncSession] = field(init=False)
    read_sessions: ReadSessions = field(init=False)

    def __post_init__(self) -> None:
        self.write_sessions = async_sessionmaker(self.primary, expire_on_commit=False)
        self.read_sessions = ReadSessions(
            self.primary, self.replica, down_for_s=self.replica_down_s
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
        replica_url = settings.database_replica_url
        # A replica that does not answer soon is skipped (the primary takes the read), so
        # its connects wait less than the primary's, which has no one to hand over to.
        replica_timeout_s = settings.db_replica_connect_timeout_s
        return cls(
            primary=create_engine(settings.database_url, settings),
            replica=(
                create_engine(replica_url, settings, connect_timeout_s=replica_timeout_s)
                if replica_url
                else None
            ),
            health=create_engine(settings.database_url, settings, pool_size=1, max_overflow=0),
            replica_health=(
                create_engine(
                    replica_url,
                    settings,
                    pool_size=1,
                    max_overflow=0,
                    connect_timeout_s=replica_timeout_s,
                )
                if replica_url
                else None
            ),
            replica_down_s=settings.db_replica_down_s,
        )

    async def dispose(self) -> None:
        for engine in (self.primary, self.replica, self.health, self.replica_health):
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

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that fails alone: on an exception its writes and the
        after-commit hooks it registered are undone, and the transaction goes on (an
        offline batch's taps, each refused or applied on its own)."""
        hooks = len(self._after_commit)
        await self.connection.execute("SAVEPOINT part")
        try:
            yield
        except Exception:
            await self.connection.execute("ROLLBACK TO SAVEPOINT part")
            del self._after_commit[hooks:]
            raise
        await self.connection.execute("RELEASE SAVEPOINT part")


async def driver_in(session: AsyncSession) -> DriverTransaction:
    """A DriverTransaction inside the session's own transaction, on its connection: for work
    that mixes the ORM with a hot path written for the driver (the simulator funding its
    riders). The session's commit commits both; the caller then runs the unit's hooks."""
    return DriverTransaction(await _driver_of(await session.connection()))


async def _driver_of(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled SQLAlchemy connection."""
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


# The dependencies that reach the database: the routes that take one (directly or through
# another dependency) document the 503 of DatabaseUnavailable (db_http).
DATABASE_DEPENDENCIES: set[Callable[..., object]] = set()
D = TypeVar("D", bound=Callable[..., object])


def uses_database(dependency: D) -> D:
    """Register `dependency` as one that reaches the database (see DATABASE_DEPENDENCIES)."""
    DATABASE_DEPENDENCIES.add(dependency)
    return dependency


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


@uses_database
async def get_database(request: Request) -> Database:
    # async: FastAPI runs plain-def dependencies in a thread pool, a costly hop per request.
    return database_of(request)


@uses_database
async def _unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with database_of(request).write_sessions() as session:
        uow = UnitOfWork(session)
        yield uow
        # Reached only when the endpoint returned normally: the commit (and its hooks)
        # completes before the response is sent, because the dependency has function scope.
        await uow.commit()


async def _begin_on_driver(engine: AsyncEngine) -> tuple[AsyncConnection, asyncpg.Connection]:
    """A pooled connection with a transaction begun on its asyncpg connection.

    A connection found dead at BEGIN is replaced once: nothing was sent in it, so nothing
    can have been applied (a connection the server closed a moment ago can pass the
    checkout check while its goodbye is still unread)."""
    for attempt in (1, 2):
        connection = await engine.connect()
        try:
            driver = await _driver_of(connection)
            await driver.execute("BEGIN")
        except BaseException as exc:
            if connection_lost(exc):
                await discard(connection, exc)
            elif not isinstance(exc, Exception):
                # Cancelled during BEGIN: whether the server began is unknown (this one only).
                await connection.invalidate()
            await connection.close()
            if attempt == 2 or not connection_lost(exc):
                raise
            continue
        return connection, driver
    raise AssertionError("unreachable: the second attempt returns or raises")


@asynccontextmanager
async def driver_transaction(database: Database) -> AsyncIterator[DriverTransaction]:
    """A write transaction on the primary's asyncpg connection: committed when the block
    ends normally, then its after-commit hooks run (the request's commit boundary, for the
    route's dependency and for kit.direct's routes alike)."""
    connection, driver = await _begin_on_driver(database.primary)
    unit = DriverTransaction(driver)
    try:
        try:
            yield unit
        except BaseException as exc:
            # Also on cancellation: the connection must not go back to the pool
            # mid-transaction. A lost connection has no transaction left to roll back.
            await _end_failed(connection, driver, exc)
            raise
        try:
            await driver.execute("COMMIT")
        except BaseException as exc:
            # Unknown outcome when the connection was lost at COMMIT: the client hears 503
            # and retries with the same key, which applies the write at most once.
            await _end_failed(connection, driver, exc)
            raise
    finally:
        if not connection.invalidated and driver.is_in_transaction():
            # Still in a transaction (its rollback was cancelled): never pooled like that.
            await connection.invalidate()
        await connection.close()
    await unit.run_hooks()


@uses_database
async def _driver_transaction(request: Request) -> AsyncIterator[DriverTransaction]:
    async with driver_transaction(database_of(request)) as unit:
        yield unit


async def _end_failed(
    connection: AsyncConnection, driver: asyncpg.Connection, exc: BaseException
) -> None:
    """Roll back the failed transaction, or discard its connection if it is lost."""
    if not connection_lost(exc):
        try:
            await driver.execute("ROLLBACK")
            return
        except Exception as rollback_error:
            if not connection_lost(rollback_error):
                # Its state is unknown, its server's is not in doubt: this connection only.
                await connection.invalidate(rollback_error)
                return
            # Found lost only now (the first failure stays the one the client is told).
            exc = rollback_error
    await discard(connection, exc)


@uses_database
async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with database_of(request).read_sessions() as session:
        yield session


@uses_database
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
