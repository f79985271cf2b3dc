"""Cached JSON views: a read endpoint's answer served from Redis, or computed and stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Response
from pydantic import BaseModel

from travel_recharge.kit.cache import Cache


async def cached_bytes(
    cache: Cache,
    group: str,
    field: str,
    ttl_s: int,
    produce: Callable[[], Awaitable[BaseModel]],
    *,
    stale_ok: bool = False,
) -> bytes:
    """The view's JSON bytes; `produce` runs only on a cache miss.

    `stale_ok` is for views whose freshness bound is their TTL (reference data, totals):
    an expired value may be served while one caller recomputes it. Never for card views.
    """

    async def load() -> bytes:
        return (await produce()).model_dump_json().encode()

    return await cache.read_through(group, field, ttl_s, load, stale_ok=stale_ok)


async def cached_json(
    cache: Cache,
    group: str,
    field: str,
    ttl_s: int,
    produce: Callable[[], Awaitable[BaseModel]],
    *,
    stale_ok: bool = False,
) -> Response:
    """The view as a JSON response; `produce` runs only on a cache miss."""
    body = await cached_bytes(cache, group, field, ttl_s, produce, stale_ok=stale_ok)
    return Response(content=body, media_type="application/json")
