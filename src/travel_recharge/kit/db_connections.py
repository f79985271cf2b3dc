"""A pooled connection that died with its server is never handed out as if alive.

After PostgreSQL restarts (or a failover moves the primary), every pooled connection is
dead, and without care the next request on each one fails. Not with pool_pre_ping: the
asyncpg dialect's ping is three round trips (BEGIN, an empty query, ROLLBACK) on every
checkout — measured on a 2-core machine at +0.2 ms (16 concurrent) to +0.5 ms (one at a
time) per checkout, 40-65% more than a whole BEGIN/SELECT/COMMIT on the connection — and
it waits as long as the query would on a server that vanished silently. So:

- At checkout, asyncpg's is_closed() — a flag of the connection object (~0.1 µs), no
  round trip — catches every connection whose server closed it (a restart, a crash, a
  proxy shutting its sessions down). SQLAlchemy then replaces it and recycles the pool's
  older connections (InvalidatePoolError: "the database has been restarted").
- A failure in use that means the connection is lost (db_failures.connection_lost)
  invalidates it and the pool's older connections: SQLAlchemy does so for its own
  disconnect errors, and the handle_error hook widens what counts as one (a server's
  FATAL, a read-only primary, a confused protocol). discard() does the same on the tap and
  recharge path, which runs on the asyncpg connection where SQLAlchemy never sees a failure.

What is left — a connection that dies between checkout and its first statement — fails
that one statement: a read runs again once (db_http), a tap or recharge found so at BEGIN
takes a fresh connection (db), any other write answers 503.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from travel_recharge.kit.db_failures import connection_lost


def guard_pool(engine: AsyncEngine) -> None:
    """Install both guards on `engine`: the checkout check and the wider disconnect test."""
    # Listeners stay with the engine: dispose() recreates its pool with the same events.
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    event.listen(engine.sync_engine, "handle_error", _widen_disconnects)


def _refuse_closed(_: object, record: ConnectionPoolEntry, __: PoolProxiedConnection) -> None:
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        # The pool reconnects this entry (up to three attempts) and every entry opened
        # before now is reconnected at its next checkout: its server is the one that left.
        raise InvalidatePoolError("the server closed this pooled connection")


def _widen_disconnects(context: ExceptionContext) -> None:
    # SQLAlchemy's asyncpg dialect calls a failure a disconnect only once asyncpg has
    # noticed the closed socket; a server's FATAL or a demoted primary come earlier.
    if not context.is_disconnect and connection_lost(context.original_exception):
        context.is_disconnect = True


async def discard(connection: AsyncConnection, exc: BaseException) -> None:
    """Invalidate `connection`, lost to `exc`, and the pool's connections opened before it,
    as SQLAlchemy does for a disconnect it sees itself."""
    if connection.invalidated or connection.closed:
        return
    proxied = connection.sync_connection.connection if connection.sync_connection else None
    if proxied is not None:
        # Pool._invalidate is what Connection._handle_dbapi_exception calls for this; there
        # is no public spelling of "this connection's generation is dead".
        connection.sync_engine.pool._invalidate(proxied, exc, _checkin=False)
    await connection.invalidate(exc)
