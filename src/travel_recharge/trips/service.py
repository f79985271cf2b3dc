"""Taps: one transaction that locks the card, prices the tap and posts it to the ledger.

The card row lock serializes every balance change of a card, so concurrent taps of one card
are priced one after another, each seeing the taps committed before it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cache import Cache
from travel_recharge.cards import service as cards
from travel_recharge.config import Settings
from travel_recharge.db import UnitOfWork
from travel_recharge.errors import Conflict, NotFound, PaymentRequired, Unprocessable
from travel_recharge.fares import service as fares
from travel_recharge.fares.engine import (
    CardState,
    FareKind,
    PriorTap,
    TapDeclined,
    TapPricing,
    TapRequest,
    price_tap,
)
from travel_recharge.fares.policy import CardType, ServiceKind
from travel_recharge.finance import service as ledger
from travel_recharge.logs import log_event
from travel_recharge.models import Card, Route, Station, Trip
from travel_recharge.network import repository as network
from travel_recharge.pagination import Page, PageInfo
from travel_recharge.trips import repository
from travel_recharge.trips.schemas import (
    CardTrip,
    CardTripsOut,
    TapIn,
    TapOut,
    TripEndIn,
    TripEndOut,
)

logger = logging.getLogger("travel_recharge.trips")

# How a boarding at a station is priced when no route is given.
_STATION_SERVICE = {
    "portal": ServiceKind.TRUNK,
    "trunk": ServiceKind.TRUNK,
    "cable": ServiceKind.CABLE,
    "zonal": ServiceKind.ZONAL,
}


async def tap(
    uow: UnitOfWork, cache: Cache, request: TapIn, now: datetime, settings: Settings
) -> tuple[TapOut, bool]:
    """Price and post a tap; returns the answer and whether it was created now."""
    session = uow.session
    event_time = request.event_time or now
    if event_time > now + timedelta(seconds=settings.tap_future_tolerance_s):
        raise Unprocessable("event_time: is in the future")
    station, route = await _where(session, request)
    service_kind = ServiceKind(route.kind) if route else _STATION_SERVICE[station.kind]  # type: ignore[union-attr]

    card = await cards.require_card(session, request.card_id, lock=True)
    earlier = await _earlier_answer(session, card, request, event_time, settings)
    if earlier is not None:
        return earlier, False
    cards.require_active(card)

    in_force = await fares.policy_at(session, event_time)
    policy = in_force.policy
    history = await repository.taps_between(
        session, card.id, event_time - policy.transfer_window, event_time
    )
    state = CardState(
        card_type=CardType(card.card_type),
        balance=card.balance,
        credit_trips_in_use=card.credit_trips_in_use,
        profile=card.profile,
        benefit_trips_used_this_month=await _benefit_trips_in_month(
            session, card, event_time, settings
        ),
    )
    outcome = price_tap(
        state,
        [_prior(t) for t in history],
        # The engine only compares stops and routes for equality, so ids serve as codes.
        TapRequest(
            event_time=event_time,
            service_kind=service_kind,
            route_code=str(route.id) if route else None,
            station_code=str(station.id) if station else None,
        ),
        policy,
    )
    if isinstance(outcome, TapDeclined):
        raise PaymentRequired(f"card {card.id}: {outcome.reason}")

    trip = await repository.add_trip(
        session,
        _trip_row(request, card, station, route, event_time, service_kind, in_force.id, outcome),
    )
    await ledger.append_entry(
        session,
        card_id=card.id,
        kind="fare",
        amount=-outcome.fare_charged,
        balance_after=outcome.balance_after,
        trip_id=trip.id,
    )
    await cards.post_balance(
        session,
        card.id,
        balance=outcome.balance_after,
        credit_trips_in_use=card.credit_trips_in_use + int(outcome.credit_used),
        last_used_at=event_time,
    )
    cards.invalidate_after_commit(uow, cache, card.id)
    log_event(
        logger,
        "tap.priced",
        card_id=card.id,
        trip_id=trip.id,
        fare=outcome.fare_charged,
        fare_kind=outcome.fare_kind.value,
    )
    return _tap_out(
        trip, route.code if route else None, duplicate=False, left=outcome.transfer_window_left
    ), True


async def _where(session: AsyncSession, request: TapIn) -> tuple[Station | None, Route | None]:
    if request.station_id is None and request.route_code is None:
        raise Unprocessable("station_id: give station_id or route_code (or both)")
    station = route = None
    if request.station_id is not None:
        station = await network.station_by_id(session, request.station_id)
        if station is None:
            raise NotFound(f"station {request.station_id} does not exist")
    if request.route_code is not None:
        route = await network.route_by_code(session, request.route_code)
        if route is None:
            raise NotFound(f"route {request.route_code} does not exist")
    return station, route


async def _earlier_answer(
    session: AsyncSession, card: Card, request: TapIn, event_time: datetime, settings: Settings
) -> TapOut | None:
    """The original answer when this tap was already posted (a retry or a double tap).

    Checked after the card lock, so a concurrent twin has either committed (and is found
    here) or not started.
    """
    same_id = await repository.trip_by_tap_id(session, request.tap_id)
    if same_id is not None:
        if same_id.card_id != card.id:
            raise Conflict(f"tap_id {request.tap_id} was already used by another card")
        return await _replay(session, same_id)
    window = timedelta(seconds=settings.double_tap_window_s)
    double = await repository.tap_at_validator_near(
        session, card.id, request.validator_id, event_time, window
    )
    return None if double is None else await _replay(session, double)


async def _replay(session: AsyncSession, trip: Trip) -> TapOut:
    left = trip.window_ends_at - trip.event_time if trip.window_ends_at else None
    code = await repository.route_code_of(session, trip.route_id)
    return _tap_out(trip, code, duplicate=True, left=left)


async def _benefit_trips_in_month(
    session: AsyncSession, card: Card, at: datetime, settings: Settings
) -> int:
    if card.profile is None:
        return 0
    local = at.astimezone(ZoneInfo(settings.timezone))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return await repository.benefit_trips_between(session, card.id, start, end)


def _prior(trip: Trip) -> PriorTap:
    return PriorTap(
        event_time=trip.event_time,
        service_kind=ServiceKind(trip.service_kind),
        route_code=str(trip.route_id) if trip.route_id is not None else None,
        station_code=str(trip.station_id) if trip.station_id is not None else None,
        fare_kind=FareKind(trip.fare_kind),
        fare_charged=trip.fare_charged,
    )


def _trip_row(
    request: TapIn,
    card: Card,
    station: Station | None,
    route: Route | None,
    event_time: datetime,
    service_kind: ServiceKind,
    policy_id: int,
    pricing: TapPricing,
) -> Trip:
    left = pricing.transfer_window_left
    return Trip(
        tap_id=request.tap_id,
        card_id=card.id,
        validator_id=request.validator_id,
        station_id=station.id if station else None,
        route_id=route.id if route else None,
        service_kind=service_kind.value,
        event_time=event_time,
        fare_policy_id=policy_id,
        fare_charged=pricing.fare_charged,
        fare_kind=pricing.fare_kind.value,
        is_transfer=pricing.is_transfer,
        credit_used=pricing.credit_used,
        benefit_trip_used=pricing.benefit_trip_used,
        transfers_in_window=pricing.transfers_in_window,
        window_anchor=pricing.window_anchor,
        window_ends_at=event_time + left if left is not None else None,
        balance_after=pricing.balance_after,
    )


def _tap_out(
    trip: Trip, route_code: str | None, *, duplicate: bool, left: timedelta | None
) -> TapOut:
    return TapOut(
        trip_id=trip.id,
        tap_id=trip.tap_id,
        card_id=trip.card_id,
        station_id=trip.station_id,
        route_code=route_code,
        validator_id=trip.validator_id,
        service_kind=trip.service_kind,
        event_time=trip.event_time,
        fare_charged=trip.fare_charged,
        fare_kind=trip.fare_kind,
        is_transfer=trip.is_transfer,
        credit_used=trip.credit_used,
        benefit_trip_used=trip.benefit_trip_used,
        transfers_in_window=trip.transfers_in_window,
        transfer_window_left_seconds=int(left.total_seconds()) if left is not None else None,
        balance_after=trip.balance_after,
        duplicate=duplicate,
    )


async def end_trip(uow: UnitOfWork, cache: Cache, request: TripEndIn, now: datetime) -> TripEndOut:
    """Record where the rider left; Bogotá charges on entry, so nothing is charged."""
    session = uow.session
    if await network.station_by_id(session, request.station_id) is None:
        raise NotFound(f"station {request.station_id} does not exist")
    trip = await repository.lock_trip(session, request.trip_id)
    if trip is None:
        raise NotFound(f"trip {request.trip_id} does not exist")
    if trip.ended_at is not None:
        raise Conflict(f"trip {trip.id} already ended at {trip.ended_at.isoformat()}")
    await repository.end_trip(session, trip.id, request.station_id, now)
    cards.invalidate_after_commit(uow, cache, trip.card_id)
    return TripEndOut(
        trip_id=trip.id,
        card_id=trip.card_id,
        boarding_station_id=trip.station_id,
        disembarking_station_id=request.station_id,
        boarding_time=trip.event_time,
        disembarking_time=now,
    )


async def card_trips(session: AsyncSession, card_id: int, page: Page) -> CardTripsOut:
    await cards.require_card(session, card_id)
    rows = await repository.trips_of_card(session, card_id, page.limit, page.offset)
    return CardTripsOut(
        card_id=card_id,
        trips=[
            CardTrip(
                trip_id=t.id,
                card_id=t.card_id,
                boarding_station_id=t.station_id,
                disembarking_station_id=t.end_station_id,
                boarding_time=t.event_time,
                disembarking_time=t.ended_at,
                route_code=code,
                service_kind=t.service_kind,
                validator_id=t.validator_id,
                is_transfer=t.is_transfer,
                fare_charged=t.fare_charged,
                fare_kind=t.fare_kind,
            )
            for t, code in rows
        ],
        page=PageInfo(limit=page.limit, offset=page.offset, returned=len(rows)),
    )
