"""The analytics endpoints' cached views: which group, field and TTL each answer lives under.

Every figure here is bounded by its TTL (stale_ok): totals and date-range figures are folded
from the rollups about once a second, so a cached answer a few seconds old is the contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from pydantic import BaseModel

from travel_recharge.analytics import service
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.views import Reads

GROUP = "analytics"


async def _view(
    reads: Reads, field: str, ttl_s: int, produce: Callable[[ReadSession], Awaitable[BaseModel]]
) -> bytes:
    return await reads.view(GROUP, field, ttl_s, produce, stale_ok=True)


async def users_count(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_users_count_s
    return await _view(reads, "users:count", ttl, service.total_users)


async def users_active(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_users_active_s
    return await _view(reads, "users:active", ttl, service.active_users)


async def users_latest(reads: Reads) -> bytes:
    """The latest rider's JSON, or b"" when no rider is registered yet (cached too)."""

    async def load(session: ReadSession) -> bytes:
        latest = await service.latest_user(session)
        return b"" if latest is None else latest.model_dump_json().encode()

    ttl = reads.settings.cache_ttl_users_latest_s
    return await reads.raw(GROUP, "users:latest", ttl, load, stale_ok=True)


async def trip_totals(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(reads, "trips:total", ttl, service.trip_totals)


async def trip_totals_by_locality(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(reads, "trips:localities", ttl, service.trip_totals_by_locality)


async def revenue(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(reads, "finance:revenue", ttl, service.revenue)


async def revenue_by_locality(reads: Reads) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(reads, "finance:localities", ttl, service.revenue_by_locality)


async def trips_by_hour(reads: Reads, start: date, end: date, service_kind: str | None) -> bytes:
    return await _view(
        reads,
        f"hours:{start}:{end}:{service_kind}",
        reads.settings.cache_ttl_totals_s,
        lambda session: service.trips_by_hour(session, start, end, service_kind),
    )


async def revenue_by_day(reads: Reads, start: date, end: date) -> bytes:
    return await _view(
        reads,
        f"days:{start}:{end}",
        reads.settings.cache_ttl_totals_s,
        lambda session: service.revenue_by_day(session, start, end),
    )


async def top_stations(reads: Reads, start: date, end: date, limit: int) -> bytes:
    return await _view(
        reads,
        f"stations:{start}:{end}:{limit}",
        reads.settings.cache_ttl_totals_s,
        lambda session: service.top_stations(session, start, end, limit),
    )


async def shares(reads: Reads, start: date, end: date) -> bytes:
    return await _view(
        reads,
        f"shares:{start}:{end}",
        reads.settings.cache_ttl_totals_s,
        lambda session: service.shares(session, start, end),
    )
