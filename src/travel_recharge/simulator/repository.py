"""The network a run's riders board in: stations with turnstiles, bus routes and their stops.

Read-only and run once at the start of a run. They read the tables of other features
directly because what they need (stations with how many routes call at them) is no other
feature's query and is not worth a service of its own. The riders themselves are the
simulator's own (own_repository).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.models import Route, RouteStop, Station


@dataclass(frozen=True)
class SampledCard:
    """A card a simulated rider carries, and its balance when the run starts."""

    card_id: int
    balance: int


@dataclass(frozen=True)
class BoardingStation:
    station_id: int
    code: str
    kind: str  # portal, trunk or cable: stations with turnstiles
    routes: int  # active routes calling at it


@dataclass(frozen=True)
class BusRoute:
    code: str
    kind: str  # zonal or feeder
    stops: tuple[int, ...]  # active stops, in route order


async def boarding_stations(session: AsyncSession) -> list[BoardingStation]:
    """Active stations with turnstiles and how many active routes call at each."""
    calling = func.count(func.distinct(Route.id))
    query = (
        select(Station.id, Station.code, Station.kind, calling.label("routes"))
        .outerjoin(RouteStop, RouteStop.station_id == Station.id)
        .outerjoin(Route, (Route.id == RouteStop.route_id) & Route.active)
        .where(Station.active, Station.kind.in_(("portal", "trunk", "cable")))
        .group_by(Station.id)
        .order_by(Station.id)
    )
    rows = (await session.execute(query)).all()
    return [BoardingStation(r.id, r.code, r.kind, int(r.routes)) for r in rows]


async def bus_routes(session: AsyncSession) -> list[BusRoute]:
    """Active zonal and feeder routes with their active stops (boarded with a route code)."""
    stops = func.array_agg(aggregate_order_by(RouteStop.station_id, RouteStop.sequence))
    query = (
        select(Route.code, Route.kind, stops.label("stops"))
        .join(RouteStop, RouteStop.route_id == Route.id)
        .join(Station, (Station.id == RouteStop.station_id) & Station.active)
        .where(Route.active, Route.kind.in_(("zonal", "feeder")))
        .group_by(Route.id)
        .order_by(Route.code)
    )
    rows = (await session.execute(query)).all()
    return [BusRoute(r.code, r.kind, tuple(r.stops)) for r in rows]
