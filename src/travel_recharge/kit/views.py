"""Cached views: a read endpoint's answer served from Redis, or computed and stored.

Services own their views (rule 1): they name the group, the field and the TTL, and hand a
loader that gets a database session. The session is opened only when the view must be
computed, so an answer served from Redis costs no session and no pool connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from travel_recharge.kit.cache import Cache
from travel_recharge.kit.clock import Clock, utc_now
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import ReadSession, SessionFactory, uses_database
from travel_recharge.kit.replay.record import note_view

T = TypeVar("T")
Produce = Callable[[ReadSession], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Reads:
    """What a cached read needs: where to open a session on a miss, the cache, the settings,
    and the clock for views that depend on the time of day.

    One per worker for each kind of read (replica or primary), made at start-up.
    """

    sessions: SessionFactory
    cache: Cache
    settings: Settings
    clock: Clock = utc_now

    async def view(
        self,
        group: str,
        field: str,
        ttl_s: int,
        produce: Produce,
        *,
        stale_ok: bool = False,
        cacheable: bool = True,
    ) -> bytes:
        """The view's JSON bytes; `produce` runs (with a fresh session) only on a miss.

        `stale_ok` is for views whose freshness bound is their TTL (reference data, totals):
        an expired value may be served while one caller recomputes it. Never for card views.
        `cacheable=False`: computed without Redis at all, for answers the cache does not keep
        (a page outside pagination.CACHED_PAGE_SIZES: clients cannot multiply keys).
        """

        async def as_json(session: ReadSession) -> bytes:
            return (await produce(session)).model_dump_json().encode()

        return await self.raw(group, field, ttl_s, as_json, stale_ok=stale_ok, cacheable=cacheable)

    async def raw(
        self,
        group: str,
        field: str,
        ttl_s: int,
        produce: Callable[[ReadSession], Awaitable[bytes]],
        *,
        stale_ok: bool = False,
        cacheable: bool = True,
    ) -> bytes:
        """Like view(), for a loader that makes its own bytes (an empty answer, say)."""
        if not cacheable:
            return await self.uncached(produce)
        body = await self.cache.read_through(
            group, field, ttl_s, lambda: self.uncached(produce), stale_ok=stale_ok
        )
        # If the route answers with these very bytes, the edge may replay them (kit.replay).
        note_view(group, field, body)
        return body

    async def uncached(self, produce: Callable[[ReadSession], Awaitable[T]]) -> T:
        """A read that is never cached, with a session of the same kind."""
        async with self.sessions() as session:
            return await produce(session)


@dataclass(frozen=True)
class ReadPaths:
    """The worker's two kinds of reads: `replica` (may lag) and `primary` (a caller's own
    acknowledged writes are visible: card views)."""

    replica: Reads
    primary: Reads


def _read_paths(request: Request) -> ReadPaths:
    paths: ReadPaths = request.app.state.read_paths
    return paths


@uses_database
async def _replica_reads(request: Request) -> Reads:
    # async: FastAPI runs plain-def dependencies in a thread pool, a costly hop per request.
    return _read_paths(request).replica


@uses_database
async def _primary_reads(request: Request) -> Reads:
    return _read_paths(request).primary


ReadsDep = Annotated[Reads, Depends(_replica_reads)]
PrimaryReadsDep = Annotated[Reads, Depends(_primary_reads)]


def json_response(body: bytes) -> Response:
    """Cached bytes as the answer: already JSON, so nothing is serialized again."""
    return Response(content=body, media_type="application/json")


def read_paths(
    replica_sessions: SessionFactory,
    primary_sessions: SessionFactory,
    cache: Cache,
    settings: Settings,
    clock: Clock = utc_now,
) -> ReadPaths:
    return ReadPaths(
        Reads(replica_sessions, cache, settings, clock),
        Reads(primary_sessions, cache, settings, clock),
    )
