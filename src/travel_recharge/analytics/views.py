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
# The views the daily job's counts feed (trip flows, rider behaviour): a group of their own,
# which the job invalidates once it has counted, so a new day shows at once.
DAILY_GROUP = "analytics:daily"


def cache_field(field: str, include_simulated: bool) -> str:
    """The cache field of a view: the figures with the simulator's riders are another view."""
    return f"{field}:simulated" if include_simulated else field


async def _view(
    reads: Reads,
    field: str,
    include_simulated: bool,
    ttl_s: int,
    produce: Callable[[ReadSession], Awaitable[BaseModel]],
) -> bytes:
    field = cache_field(field, include_simulated)
    return await reads.view(GROUP, field, ttl_s, produce, stale_ok=True)


async def users_count(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_users_count_s
    return await _view(
        reads,
        "users:count",
        include_simulated,
        ttl,
        lambda s: service.total_users(s, include_simulated),
    )


async def users_active(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_users_active_s
    return await _view(
        reads,
        "users:active",
        include_simulated,
        ttl,
        lambda s: service.active_users(s, include_simulated),
    )


async def users_latest(reads: Reads, include_simulated: bool) -> bytes:
    """The latest rider's JSON, or b"" when no rider is registered yet (cached too)."""

    async def load(session: ReadSession) -> bytes:
        latest = await service.latest_user(session, include_simulated)
        return b"" if latest is None else latest.model_dump_json().encode()

    field = cache_field("users:latest", include_simulated)
    ttl = reads.settings.cache_ttl_users_latest_s
    return await reads.raw(GROUP, field, ttl, load, stale_ok=True)


async def trip_totals(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(
        reads,
        "trips:total",
        include_simulated,
        ttl,
        lambda s: service.trip_totals(s, include_simulated),
    )


async def trip_totals_by_locality(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(
        reads,
        "trips:localities",
        include_simulated,
        ttl,
        lambda s: service.trip_totals_by_locality(s, include_simulated),
    )


async def revenue(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(
        reads,
        "finance:revenue",
        include_simulated,
        ttl,
        lambda s: service.revenue(s, include_simulated),
    )


async def revenue_by_locality(reads: Reads, include_simulated: bool) -> bytes:
    ttl = reads.settings.cache_ttl_totals_s
    return await _view(
        reads,
        "finance:localities",
        include_simulated,
        ttl,
        lambda s: service.revenue_by_locality(s, include_simulated),
    )


async def trips_by_hour(
    reads: Reads, start: date, end: date, service_kind: str | None, include_simulated: bool
) -> bytes:
    return await _view(
        reads,
        f"hours:{start}:{end}:{service_kind}",
        include_simulated,
        reads.settings.cache_ttl_totals_s,
        lambda s: service.trips_by_hour(s, start, end, service_kind, include_simulated),
    )


async def revenue_by_day(reads: Reads, start: date, end: date, include_simulated: bool) -> bytes:
    return await _view(
        reads,
        f"days:{start}:{end}",
        include_simulated,
        reads.settings.cache_ttl_totals_s,
        lambda s: service.revenue_by_day(s, start, end, include_simulated),
    )


async def top_stations(
    reads: Reads, start: date, end: date, limit: int, include_simulated: bool
) -> bytes:
    return await _view(
        reads,
        f"stations:{start}:{end}:{limit}",
        include_simulated,
        reads.settings.cache_ttl_totals_s,
        lambda s: service.top_stations(s, start, end, limit, include_simulated),
    )


async def shares(reads: Reads, start: date, end: date, include_simulated: bool) -> bytes:
    return await _view(
        reads,
        f"shares:{start}:{end}",
        include_simulated,
        reads.settings.cache_ttl_totals_s,
        lambda s: service.shares(s, start, end, include_simulated),
    )
