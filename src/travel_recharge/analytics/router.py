"""Analytics endpoints (seed paths for users, trips and finance; date-range analytics)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from travel_recharge.analytics import service, views
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
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import ReadsDep, json_response
from travel_recharge.kit.wire_formats import IsoDate
from travel_recharge.security import CurrentPrincipal, Role, allow

router = APIRouter(
    prefix="/api/v1",
    tags=["analytics"],
    route_class=StrictJSONRoute,
    dependencies=[allow("analytics", Role.analyst)],
)


def watched_router() -> APIRouter:
    """A router under /api/v1/analytics for analysts and operators: operators watch the
    network too (the live dashboard, station performance, the revenue forecast)."""
    return APIRouter(
        prefix="/api/v1/analytics",
        tags=["analytics"],
        route_class=StrictJSONRoute,
        dependencies=[allow("analytics", Role.analyst, Role.operator)],
    )


# Analytics are about real riders; the traffic simulator's are added only when asked for.
IncludeSimulated = Annotated[
    bool,
    Query(description="also count the traffic simulator's riders and taps (default: false)"),
]
DateFrom = Annotated[
    IsoDate | None, Query(description="first local day, YYYY-MM-DD (default: 30 days ago)")
]
DateTo = Annotated[IsoDate | None, Query(description="last local day, YYYY-MM-DD (default: today)")]


async def _date_range(
    settings: SettingsDep, date_from: DateFrom = None, date_to: DateTo = None
) -> tuple[date, date]:
    return service.date_range(date_from, date_to, datetime.now(UTC), settings.timezone)


DateRangeDep = Annotated[tuple[date, date], Depends(_date_range)]
ServiceKind = Literal["trunk", "cable", "zonal", "feeder"]


@router.get("/users/count", response_model=TotalUsers)
async def users_count(reads: ReadsDep, include_simulated: IncludeSimulated = False) -> Response:
    """Registered riders."""
    return json_response(await views.users_count(reads, include_simulated))


@router.get("/users/active/count", response_model=ActiveUsers)
async def users_active_count(
    reads: ReadsDep, include_simulated: IncludeSimulated = False
) -> Response:
    """Active riders."""
    return json_response(await views.users_active(reads, include_simulated))


@router.get(
    "/users/latest",
    response_model=LatestUser,
    responses={204: {"description": "No rider is registered yet"}},
)
async def users_latest(
    reads: ReadsDep, principal: CurrentPrincipal, include_simulated: IncludeSimulated = False
) -> Response:
    """The most recently registered rider (the full name for admins, initials for analysts)."""
    body = await views.users_latest(reads, include_simulated)
    if not body:
        return Response(status_code=204)
    return json_response(service.latest_user_for(body, principal.role))


@router.get("/trips/total", response_model=TripTotals)
async def trips_total(reads: ReadsDep, include_simulated: IncludeSimulated = False) -> Response:
    """All trips, completed and active trips, and revenue (fares charged)."""
    return json_response(await views.trip_totals(reads, include_simulated))


@router.get("/trips/total/localities", response_model=TripTotalsByLocality)
async def trips_total_by_locality(
    reads: ReadsDep, include_simulated: IncludeSimulated = False
) -> Response:
    """Trip totals and revenue for each of the 20 localities."""
    return json_response(await views.trip_totals_by_locality(reads, include_simulated))


@router.get("/finance/revenue", response_model=Revenue)
async def finance_revenue(reads: ReadsDep, include_simulated: IncludeSimulated = False) -> Response:
    """Total revenue: the fares charged at boarding, in pesos."""
    return json_response(await views.revenue(reads, include_simulated))


@router.get("/finance/revenue/localities", response_model=RevenueByLocality)
async def finance_revenue_by_locality(
    reads: ReadsDep, include_simulated: IncludeSimulated = False
) -> Response:
    """Revenue for each locality."""
    return json_response(await views.revenue_by_locality(reads, include_simulated))


@router.get("/analytics/trips-by-hour", response_model=TripsByHour, responses=error_responses(422))
async def trips_by_hour(
    reads: ReadsDep,
    days: DateRangeDep,
    service_kind: ServiceKind | None = None,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Trips per local hour of day over a date range, optionally for one service kind."""
    start, end = days
    return json_response(
        await views.trips_by_hour(reads, start, end, service_kind, include_simulated)
    )


@router.get(
    "/analytics/revenue-by-day", response_model=RevenueByDay, responses=error_responses(422)
)
async def revenue_by_day(
    reads: ReadsDep, days: DateRangeDep, include_simulated: IncludeSimulated = False
) -> Response:
    """Trips and revenue per local day over a date range."""
    start, end = days
    return json_response(await views.revenue_by_day(reads, start, end, include_simulated))


@router.get("/analytics/top-stations", response_model=TopStations, responses=error_responses(422))
async def top_stations(
    reads: ReadsDep,
    days: DateRangeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """The busiest trunk stations, portals and cable stations by boardings over a date range."""
    start, end = days
    return json_response(await views.top_stations(reads, start, end, limit, include_simulated))


@router.get("/analytics/shares", response_model=Shares, responses=error_responses(422))
async def shares(
    reads: ReadsDep, days: DateRangeDep, include_simulated: IncludeSimulated = False
) -> Response:
    """Share of transfers and of credit trips, by service kind, over a date range."""
    start, end = days
    return json_response(await views.shares(reads, start, end, include_simulated))
