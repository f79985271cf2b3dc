"""Which database failures mean "the server or the connection is gone", not "this request is
wrong".

Three questions are asked of every failure, on both roads to PostgreSQL (the ORM sessions,
where SQLAlchemy wraps the driver's exception, and the tap/recharge path on the asyncpg
connection itself, where it arrives bare):

- connection_lost: the connection it came from must never be used again, nor the pool's
  older connections to the same server (a restart, a crash, a failover). A read may be
  retried once on a fresh connection; a write's outcome is unknown.
- server_unreachable: no connection to the server can be made or kept (down, starting,
  refusing, gone): a read may go to another server (the primary instead of the replica).
- database_unavailable: the client should hear 503 with Retry-After (and retry a write with
  the same Idempotency-Key or tap_id), not 500: either of the above, or a pool that hands
  out no connection in time.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATEs of a server that ended the session or is not the primary any more.
#   57P01 admin_shutdown, 57P02 crash_shutdown, 57P04 database_dropped,
#   57P05 idle_session_timeout: the server closed this connection;
#   25006 read_only_sql_transaction: the write connection reached a server in recovery (a
#   demoted primary during a failover): every pooled connection to it is as useless.
#   Class 08 (connection exception): the driver's own "the connection broke".
_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P04", "57P05", "25006"})
_LOST_SQLSTATE_CLASSES = ("08",)

# SQLSTATEs of a server that refuses new connections for now:
#   57P03 cannot_connect_now (starting up, shutting down, in recovery without hot standby),
#   53300 too_many_connections.
_REFUSING_SQLSTATES = frozenset({"57P03", "53300"})


def driver_error(exc: BaseException) -> BaseException:
    """The driver's exception under SQLAlchemy's wrappers (DBAPIError.orig, then the
    emulated DBAPI error's .orig), or `exc` itself when it came from asyncpg directly."""
    seen = exc
    for _ in range(3):  # DBAPIError -> emulated DBAPI error -> asyncpg: never deeper
        inner = getattr(seen, "orig", None)
        if not isinstance(inner, BaseException):
            break
        seen = inner
    return seen


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else ""


def connection_lost(exc: BaseException) -> bool:
    """The connection that raised `exc` is dead or points at a server that can no longer
    serve it: discard it, and the pool's connections opened before it."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy (or our handle_error hook) already judged it a disconnect
    error = driver_error(exc)
    state = _sqlstate(error)
    if state in _LOST_SQLSTATES or state.startswith(_LOST_SQLSTATE_CLASSES):
        return True
    if isinstance(error, asyncpg.InterfaceError):
        # "connection is closed" (asyncpg noticed the server left) and its kin; the other
        # InterfaceErrors are misuse of the driver, not failures of the connection.
        return "closed" in str(error)
    # The protocol is in a state asyncpg did not expect: observed when the server's FATAL
    # ("terminating connection due to administrator command") reached an idle pooled
    # connection just before its next query. What the connection would do next is unknown.
    if isinstance(error, asyncpg.InternalClientError):
        return True
    # A socket that broke under a query (a refused connect is no connection to lose).
    return isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError)


def server_unreachable(exc: BaseException) -> bool:
    """No connection to the server could be made or kept: it is down, starting, shutting
    down, full, or gone from under a query (a busy pool is not this)."""
    if connection_lost(exc):
        return True
    error = driver_error(exc)
    # OSError covers a refused or reset connection and TimeoutError (a connect that got no
    # answer): the server, or the proxy in front of it, is not there.
    return isinstance(error, OSError) or _sqlstate(error) in _REFUSING_SQLSTATES


def database_unavailable(exc: BaseException) -> bool:
    """`exc` means no database server could serve this request now (or a write's outcome is
    unknown): answer 503 with Retry-After, never 500."""
    # A pool timeout: every connection is taken (busy) or none can be made (the primary is
    # gone); both pass. OperationalError is the DBAPI's "not the program's fault".
    return server_unreachable(exc) or isinstance(exc, PoolTimeoutError | OperationalError)
