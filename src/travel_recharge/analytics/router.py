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
from travel_recharge.security import CurrentPrincipal, Role, allow

router = APIRouter(
    prefix="/api/v1",
    tags=["analytics"],
    route_class=StrictJSONRoute,
    dependencies=[allow("analytics", Role.analyst)],
)

GROUP = "analytics"
DateFrom = Annotated[date | None, Query(description="first local day (default: 30 days ago)")]
DateTo = Annotated[date | None, Query(description="last local day (default: today)")]


async def _date_range(
    settings: SettingsDep, date_from: DateFrom = None, date_to: DateTo = None
) -> tuple[date, date]:
    return service.date_range(date_from, date_to, datetime.now(UTC), settings.timezone)


DateRangeDep = Annotated[tuple[date, date], Depends(_date_range)]
ServiceKind = Literal["trunk", "cable", "zonal", "feeder"]


@router.get("/users/count", response_model=TotalUsers)
async def users_count(session: ReadSessionDep, cache: CacheDep, settings: SettingsDep) -> Response:
    """Registered riders."""
    return await cached_json(
        cache,
        GROUP,
        "users:count",
        settings.cache_ttl_users_count_s,
        lambda: service.total_users(session),
        stale_ok=True,
    )


@router.get("/users/active/count", response_model=ActiveUsers)
async def users_active_count(
    session: ReadSessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    """Active riders."""
    return await cached_json(
        cache,
        GROUP,
        "users:active",
        settings.cache_ttl_users_active_s,
        lambda: service.active_users(session),
        stale_ok=True,
    )


@router.get(
    "/users/latest",
    response_model=LatestUser,
    responses={204: {"description": "No rider is registered yet"}},
)
async def users_latest(
    session: ReadSessionDep, cache: CacheDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    """The most recently registered rider (the full name for admins, initials for analysts)."""

    async def load() -> bytes:
        latest = await service.latest_user(session)
        return b"" if latest is None else latest.model_dump_json().encode()

    body = await cache.read_through(
        GROUP, "users:latest", settings.cache_ttl_users_latest_s, load, stale_ok=True
    )
    if not body:
        return Response(status_code=204)
    shown = service.latest_user_for(body, principal.role)
    return Response(content=shown, media_type="application/json")


@router.get("/trips/total", response_model=TripTotals)
async def trips_total(session: ReadSessionDep, cache: CacheDep, settings: SettingsDep) -> Response:
    """All trips, completed and active trips, and revenue (fares charged)."""
    return await cached_json(
        cache,
        GROUP,
        "trips:total",
        settings.cache_ttl_totals_s,
        lambda: service.trip_totals(session),
        stale_ok=True,
    )


@router.get("/trips/total/localities", response_model=TripTotalsByLocality)
async def trips_total_by_locality(
    session: ReadSessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    """Trip totals and revenue for each of the 20 localities."""
    return await cached_json(
        cache,
        GROUP,
        "trips:localities",
        settings.cache_ttl_totals_s,
        lambda: service.trip_totals_by_locality(session),
        stale_ok=True,
    )


@router.get("/finance/revenue", response_model=Revenue)
async def finance_revenue(
    session: ReadSessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    """Total revenue: the fares charged at boarding, in pesos."""
    return await cached_json(
        cache,
        GROUP,
        "finance:revenue",
        settings.cache_ttl_totals_s,
        lambda: service.revenue(session),
        stale_ok=True,
    )


@router.get("/finance/revenue/localities", response_model=RevenueByLocality)
async def finance_revenue_by_locality(
    session: ReadSessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    """Revenue for each locality."""
    return await cached_json(
        cache,
        GROUP,
        "finance:localities",
        settings.cache_ttl_totals_s,
        lambda: service.revenue_by_locality(session),
        stale_ok=True,
    )


@router.get("/analytics/trips-by-hour", response_model=TripsByHour, responses=error_responses(422))
async def trips_by_hour(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    service_kind: ServiceKind | None = None,
) -> Response:
    """Trips per local hour of day over a date range, optionally for one service kind."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        f"hours:{start}:{end}:{service_kind}",
        settings.cache_ttl_totals_s,
        lambda: service.trips_by_hour(session, start, end, service_kind),
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
) -> Response:
    """Trips and revenue per local day over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        f"days:{start}:{end}",
        settings.cache_ttl_totals_s,
        lambda: service.revenue_by_day(session, start, end),
        stale_ok=True,
    )


@router.get("/analytics/top-stations", response_model=TopStations, responses=error_responses(422))
async def top_stations(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> Response:
    """The busiest trunk stations, portals and cable stations by boardings over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        f"stations:{start}:{end}:{limit}",
        settings.cache_ttl_totals_s,
        lambda: service.top_stations(session, start, end, limit),
        stale_ok=True,
    )


@router.get("/analytics/shares", response_model=Shares, responses=error_responses(422))
async def shares(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    days: DateRangeDep,
) -> Response:
    """Share of transfers and of credit trips, by service kind, over a date range."""
    start, end = days
    return await cached_json(
        cache,
        GROUP,
        f"shares:{start}:{end}",
        settings.cache_ttl_totals_s,
        lambda: service.shares(session, start, end),
        stale_ok=True,
    )
