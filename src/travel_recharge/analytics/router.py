"""Analytics endpoints (seed paths for users, trips and finance; date-range analytics)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from travel_recharge.analytics import service
from travel_recharge.analytics.schemas import (
    ActiveUsers,
    LatestUser,
    Revenue,
    RevenueByDay,
    RevenueByLocality,
    Shares,
    TopStations,
    TotalUsers,
    TripsByHour,
    TripTotals,
    TripTotalsByLocality,
)
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import ReadSessionDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import cached_json
from travel_recharge.security import Role, allow

router = APIRouter(
    prefix="/api/v1",
    tags=["analytics"],
    route_class=StrictJSONRoute,
    dependencies=[allow("analytics", Role.analyst)],
)

GROUP = "analytics"
# Analytics are about real riders; the traffic simulator's are added only when asked for.
IncludeSimulated = Annotated[
    bool,
    Query(description="also count the traffic simulator's riders and taps (default: false)"),
]
DateFrom = Annotated[date | None, Query(description="first local day (default: 30 days ago)")]
DateTo = Annotated[date | None, Query(description="last local day (default: today)")]


async def _date_range(
    settings: SettingsDep, date_from: DateFrom = None, date_to: DateTo = None
) -> tuple[date, date]:
    return service.date_range(date_from, date_to, datetime.now(UTC), settings.timezone)


DateRangeDep = Annotated[tuple[date, date], Depends(_date_range)]


def cache_field(field: str, include_simulated: bool) -> str:
    """The cache field of a view: the figures with simulated riders are another view."""
    return f"{field}:simulated" if include_simulated else field


ServiceKind = Literal["trunk", "cable", "zonal", "feeder"]


@router.get("/users/count", response_model=TotalUsers)
async def users_count(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Registered riders."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("users:count", include_simulated),
        settings.cache_ttl_users_count_s,
        lambda: service.total_users(session, include_simulated),
        stale_ok=True,
    )


@router.get("/users/active/count", response_model=ActiveUsers)
async def users_active_count(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Active riders."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("users:active", include_simulated),
        settings.cache_ttl_users_active_s,
        lambda: service.active_users(session, include_simulated),
        stale_ok=True,
    )


@router.get(
    "/users/latest",
    response_model=LatestUser,
    responses={204: {"description": "No rider is registered yet"}},
)
async def users_latest(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """The most recently registered rider."""

    async def load() -> bytes:
        latest = await service.latest_user(session, include_simulated)
        return b"" if latest is None else latest.model_dump_json().encode()

    body = await cache.read_through(
        GROUP,
        cache_field("users:latest", include_simulated),
        settings.cache_ttl_users_latest_s,
        load,
        stale_ok=True,
    )
    if not body:
        return Response(status_code=204)
    return Response(content=body, media_type="application/json")


@router.get("/trips/total", response_model=TripTotals)
async def trips_total(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """All trips, completed and active trips, and revenue (fares charged)."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("trips:total", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.trip_totals(session, include_simulated),
        stale_ok=True,
    )


@router.get("/trips/total/localities", response_model=TripTotalsByLocality)
async def trips_total_by_locality(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Trip totals and revenue for each of the 20 localities."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("trips:localities", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.trip_totals_by_locality(session, include_simulated),
        stale_ok=True,
    )


@router.get("/finance/revenue", response_model=Revenue)
async def finance_revenue(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Total revenue: the fares charged at boarding, in pesos."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("finance:revenue", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.revenue(session, include_simulated),
        stale_ok=True,
    )


@router.get("/finance/revenue/localities", response_model=RevenueByLocality)
async def finance_revenue_by_locality(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Revenue for each locality."""
    return await cached_json(
        cache,
        GROUP,
        cache_field("finance:localities", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.revenue_by_locality(session, include_simulated),
        stale_ok=True,
    )


@router.get("/analytics/trips-by-hour", response_model=TripsByHour, responses=error_responses(422))
async def trips_by_hour(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    service_kind: ServiceKind | None = None,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Trips per local hour of day over a date range, optionally for one service kind."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        cache_field(f"hours:{start}:{end}:{service_kind}", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.trips_by_hour(session, start, end, service_kind, include_simulated),
        stale_ok=True,
    )


@router.get(
    "/analytics/revenue-by-day", response_model=RevenueByDay, responses=error_responses(422)
)
async def revenue_by_day(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Trips and revenue per local day over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        cache_field(f"days:{start}:{end}", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.revenue_by_day(session, start, end, include_simulated),
        stale_ok=True,
    )


@router.get("/analytics/top-stations", response_model=TopStations, responses=error_responses(422))
async def top_stations(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """The busiest trunk stations, portals and cable stations by boardings over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        cache_field(f"stations:{start}:{end}:{limit}", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.top_stations(session, start, end, limit, include_simulated),
        stale_ok=True,
    )


@router.get("/analytics/shares", response_model=Shares, responses=error_responses(422))
async def shares(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Share of transfers and of credit trips, by service kind, over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        cache_field(f"shares:{start}:{end}", include_simulated),
        settings.cache_ttl_totals_s,
        lambda: service.shares(session, start, end, include_simulated),
        stale_ok=True,
    )
