"""Network reads: stations, routes, arrivals, a station's alerts, recharge points. HTTP only.

Reference views (stations, routes, recharge points) answer with an ETag and Cache-Control, and
a 304 when the client already has them; alerts and arrivals are not HTTP-cacheable (they change
with every alert write and every minute).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.http_cache import conditional_json
from travel_recharge.kit.pagination import PageDep
from travel_recharge.kit.views import PrimaryReadsDep, ReadsDep
from travel_recharge.network import service
from travel_recharge.network.alerts import service as alerts
from travel_recharge.network.schemas import (
    ActiveFilter,
    ActiveOnlyQuery,
    ArrivalsOut,
    AtQuery,
    ChannelFilter,
    LocalityFilter,
    PerRouteQuery,
    RechargePointsPage,
    RouteCode,
    RouteCodesOut,
    RouteDetailsOut,
    StationAlertsOut,
    StationCode,
    StationDetailsOut,
    StationId,
    StationIdentifiersOut,
    StationKindFilter,
    StationsPage,
)
from travel_recharge.security import public

router = APIRouter(
    prefix="/api/v1", route_class=StrictJSONRoute, dependencies=[public("reference")]
)


# Documented on every ETagged route, so clients see that revalidation is offered.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match tag is current"}
}


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


@router.get(
    "/stations",
    tags=["stations"],
    response_model=StationsPage,
    responses={**NOT_MODIFIED, **error_responses(422)},
)
async def list_stations(
    request: Request,
    page: PageDep,
    reads: ReadsDep,
    locality: LocalityFilter = None,
    kind: StationKindFilter = None,
    active: ActiveFilter = None,
) -> Response:
    """Stations and stops by code, filtered by locality, kind and active, with the total."""
    body = await service.stations(reads, locality=locality, kind=kind, active=active, page=page)
    return conditional_json(request, body, reads.settings.cache_ttl_stations_s)


@router.get(
    "/stations/identifiers",
    tags=["stations"],
    response_model=StationIdentifiersOut,
    responses=NOT_MODIFIED,
)
async def station_identifiers(request: Request, reads: ReadsDep) -> Response:
    """Code and name of every station and stop (large: use If-None-Match and gzip)."""
    body = await service.station_identifiers(reads)
    return conditional_json(request, body, reads.settings.cache_ttl_station_reference_s)


@router.get(
    "/stations/{station_code}/details",
    tags=["stations"],
    response_model=StationDetailsOut,
    responses={**NOT_MODIFIED, **error_responses(404, 422)},
)
async def station_details(request: Request, station_code: StationCode, reads: ReadsDep) -> Response:
    """A station by its 5-digit code, with the active routes calling at it."""
    body = await service.station_details(reads, station_code)
    return conditional_json(request, body, reads.settings.cache_ttl_station_reference_s)


@router.get(
    "/stations/{station_id}/arrivals",
    tags=["stations"],
    response_model=ArrivalsOut,
    responses=error_responses(404, 422),
)
async def station_arrivals(
    station_id: StationId,
    reads: ReadsDep,
    at: AtQuery = None,
    per_route: PerRouteQuery = 3,
) -> Response:
    """Next scheduled arrivals per route at the station, from the timetable and stop offsets."""
    now = datetime.now(UTC)
    body = await service.arrivals(reads, station_id, at=at or now, now=now, per_route=per_route)
    return _json(body)


@router.get(
    "/stations/{station_id}/alerts",
    tags=["alerts"],
    response_model=StationAlertsOut,
    responses=error_responses(404, 422),
)
async def station_alerts(
    station_id: StationId,
    page: PageDep,
    # The primary: alert views are refilled right after each alert write's invalidation, and
    # a lagging replica would refill them with the state before the write.
    reads: PrimaryReadsDep,
    active_only: ActiveOnlyQuery = True,
) -> Response:
    """Alerts for the station and for the routes calling at it, newest first."""
    body = await alerts.station_alerts(
        reads, station_id, active_only=active_only, page=page, now=datetime.now(UTC)
    )
    return _json(body)


@router.get("/routes/codes", tags=["routes"], response_model=RouteCodesOut, responses=NOT_MODIFIED)
async def route_codes(request: Request, reads: ReadsDep) -> Response:
    """Every route code, sorted."""
    body = await service.route_codes(reads)
    return conditional_json(request, body, reads.settings.cache_ttl_routes_s)


@router.get(
    "/routes/{route_code}/details",
    tags=["routes"],
    response_model=RouteDetailsOut,
    responses={**NOT_MODIFIED, **error_responses(404, 422)},
)
async def route_details(request: Request, route_code: RouteCode, reads: ReadsDep) -> Response:
    """A route with its headways per time band and its stops in running order."""
    body = await service.route_details(reads, route_code)
    return conditional_json(request, body, reads.settings.cache_ttl_routes_s)


@router.get(
    "/recharge-points",
    tags=["recharge points"],
    response_model=RechargePointsPage,
    responses={**NOT_MODIFIED, **error_responses(422)},
)
async def recharge_points(
    request: Request,
    page: PageDep,
    reads: ReadsDep,
    locality: LocalityFilter = None,
    channel: ChannelFilter = None,
) -> Response:
    """Active places to recharge a card, filtered by locality and channel, with the total."""
    body = await service.recharge_points(reads, locality=locality, channel=channel, page=page)
    return conditional_json(request, body, reads.settings.cache_ttl_recharge_points_s)
