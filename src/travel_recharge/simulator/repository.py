"""Every SQL statement of the simulator: the samples a run draws its riders and places from.

Read-only and run once at the start of a run. They read the tables of other features
directly because what they need (a random sample of cards, stations with how many routes
call at them) is no other feature's query and is not worth a service of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tablesample, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from travel_recharge.models import Card, RechargePoint, Route, RouteStop, Station

# Above this many (estimated) cards, a page sample (TABLESAMPLE SYSTEM) replaces the sort of
# the whole table by random().
SAMPLE_PAGES_ABOVE = 50_000
# The page sample aims at this many times the cards wanted (some are not active).
_OVERSAMPLE = 4


@dataclass(frozen=True)
class SampledCard:
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


async def _estimated_cards(session: AsyncSession) -> float:
    estimate = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'cards'::regclass")
    )
    return float(estimate or 0)


async def sample_cards(
    session: AsyncSession, limit: int, *, page_sample_above: int = SAMPLE_PAGES_ABOVE
) -> list[SampledCard]:
    """Up to `limit` active cards drawn at random."""
    estimate = await _estimated_cards(session)
    if estimate > max(page_sample_above, 0):
        # Reads a few pages instead of sorting millions of rows; cards sit in id order, so a
        # page holds neighbours, which is random enough for riders.
        percent = min(100.0, 100.0 * _OVERSAMPLE * limit / estimate)
        sampled = await _random_active(session, aliased(Card, tablesample(Card, percent)), limit)
        if len(sampled) >= limit:
            return sampled
    return await _random_active(session, Card, limit)


async def _random_active(session: AsyncSession, cards: type[Card], limit: int) -> list[SampledCard]:
    query = (
        select(cards.id, cards.balance)
        .where(cards.status == "active")
        .order_by(func.random())
        .limit(limit)
    )
    return [SampledCard(r.id, r.balance) for r in (await session.execute(query)).all()]


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


async def recharge_points(session: AsyncSession) -> Sequence[int]:
    """Active points of sale (web points recharge through another flow)."""
    query = (
        select(RechargePoint.id)
        .where(RechargePoint.active, RechargePoint.channel != "web")
        .order_by(RechargePoint.id)
    )
    return (await session.scalars(query)).all()
