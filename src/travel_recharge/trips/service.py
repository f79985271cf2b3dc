"""Taps: one transaction that locks the card, prices the tap and posts it to the ledger.

The card row lock serializes every balance change of a card, so concurrent taps of one card
are priced one after another, each seeing the taps committed before it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.cards import service as cards
from travel_recharge.cards.deny_list import service as deny_list
from travel_recharge.cards.errors import CardDeniedAtTap, CardNotFound
from travel_recharge.cards.web_recharges import service as web_recharges
from travel_recharge.cards.web_recharges.schemas import PostedWebRecharge
from travel_recharge.fares import service as fares
from travel_recharge.fares.engine import (
    CardState,
    FareKind,
    PriorTap,
    TapDeclined,
    TapRequest,
    price_tap,
)
from travel_recharge.fares.policy import STATION_SERVICE, CardType, ServiceKind
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import DriverTransaction, ReadSession, UnitOfWork
from travel_recharge.kit.errors import PaymentRequired, Unprocessable
from travel_recharge.kit.logs import log_event
from travel_recharge.models import Trip
from travel_recharge.network import service as network
from travel_recharge.network.errors import RouteNotFound, StationNotFound
from travel_recharge.observability import business as metrics
from travel_recharge.trips import repository
from travel_recharge.trips.errors import TapIdTaken, TripAlreadyEnded, TripNotFound
from travel_recharge.trips.repricing import service as repricing
from travel_recharge.trips.repricing.service import Repricing
from travel_recharge.trips.schemas import (
    TapIn,
    TapOut,
    TripEndIn,
    TripEndOut,
)

logger = logging.getLogger("travel_recharge.trips")


@dataclass(frozen=True)
class Applied:
    """A tap as applied: its answer, whether it was created now (not a retry), whether the
    card could not cover it (offline only), and what it changed in later taps (a late tap)."""

    answer: TapOut
    created: bool
    uncovered: bool
    repricing: Repricing | None


async def tap(
    unit: DriverTransaction,
    cache: Cache,
    request: TapIn,
    now: datetime,
    settings: Settings,
    *,
    account_id: int | None,
) -> tuple[TapOut, bool]:
    """Price and post a tap; returns the answer and whether it was created now.

    account_id is the account that sent it, recorded on the trip and its ledger entry."""
    applied = await _tap(unit, cache, request, now, settings, account_id=account_id, offline=False)
    return applied.answer, applied.created


async def offline_tap(
    unit: DriverTransaction,
    cache: Cache,
    request: TapIn,
    now: datetime,
    settings: Settings,
    *,
    account_id: int | None,
) -> Applied:
    """A tap an offline validator already let through (its batch): refused only when the
    card was on the deny list at its event time, and charged whatever the balance (offline
    risk when the card could not cover it)."""
    return await _tap(unit, cache, request, now, settings, account_id=account_id, offline=True)


async def _tap(
    unit: DriverTransaction,
    cache: Cache,
    request: TapIn,
    now: datetime,
    settings: Settings,
    *,
    account_id: int | None,
    offline: bool,
) -> Applied:
    connection = unit.connection
    # Answered in UTC, as stored: a retry, read back from the database, answers the same.
    try:
        event_time = (request.event_time or now).astimezone(UTC)
    except OverflowError as exc:
        raise _out_of_range() from exc
    if event_time > now + timedelta(seconds=settings.tap_future_tolerance_s):
        raise Unprocessable("event_time: is in the future")
    if request.station_id is None and request.route_code is None:
        raise Unprocessable("station_id: give station_id or route_code (or both)")

    locked = await repository.lock_card_with_context(
        connection,
        tap_id=request.tap_id,
        card_id=request.card_id,
        station_id=request.station_id,
        route_code=request.route_code,
        validator_id=request.validator_id,
        event_time=event_time,
        double_tap_window=timedelta(seconds=settings.double_tap_window_s),
        benefit_month=_benefit_month(event_time, settings),
    )
    if locked is None:
        raise CardNotFound(request.card_id)
    card, context = locked
    service_kind = _service_kind(request, card)
    # A retry or a double tap answers with the original tap, even if the card was blocked since.
    earlier = _earlier(context, card.id, request)
    if earlier is not None:
        return Applied(_tap_out(earlier, duplicate=True), False, False, None)
    if event_time < now - timedelta(seconds=settings.tap_offline_window_s):
        # After the retry check (a retry still gets its original answer, rule 4) and before
        # pricing: an older tap would be priced by an older, maybe cheaper, fare policy.
        raise Unprocessable(
            f"event_time: is older than the offline window of {settings.tap_offline_window_s} s"
            " (TR_TAP_OFFLINE_WINDOW_S); a tap must reach the service within it"
        )
    if not offline:
        cards.require_active(card.id, card.status)
    elif await deny_list.denied_at(connection, card.id, event_time):
        # Refused already when the validator read it. A card blocked only after the read is
        # charged: the validator could not know, and the ride stands.
        raise CardDeniedAtTap(card.id, event_time)
    in_force = fares.require_policy(
        context.policy_id, context.policy_version, context.policy_document, event_time
    )
    balance, credit_trips_in_use = card.balance, card.credit_trips_in_use
    posted_web: list[PostedWebRecharge] = []
    at_a_gate = request.station_id is not None and request.route_code is None
    if card.has_pending_web and at_a_gate and not offline:
        # Read at a station gate that is online: the money paid on the web reaches the card
        # first, so the tap is priced with it. A bus reader does not post them, nor a gate
        # that was offline (it could not know of them when it read the card).
        posted_web, balance, credit_trips_in_use = await web_recharges.post_pending(
            unit,
            card_id=card.id,
            card_simulated=card.simulated,
            balance=balance,
            credit_trips_in_use=credit_trips_in_use,
            policy=in_force.policy,  # the tap's: its limits, one policy per transaction
            now=now,
            validator_id=request.validator_id,
        )

    history = [_prior(t) for t in context.history]
    # The engine only compares stops and routes for equality, so ids serve as codes.
    priced = TapRequest(
        event_time=event_time,
        service_kind=service_kind,
        route_code=_code(card.route_id),
        station_code=_code(request.station_id),
    )
    outcome = price_tap(
        CardState(
            card_type=CardType(card.card_type),
            balance=balance,
            credit_trips_in_use=credit_trips_in_use,
            profile=card.profile,
            benefit_trips_used_this_month=context.benefit_trips,
        ),
        history,
        priced,
        in_force.policy,
        accepted=offline,
    )
    if isinstance(outcome, TapDeclined):
        raise PaymentRequired(f"card {card.id}: {outcome.reason}")

    left = outcome.transfer_window_left
    posted = repository.PostedTap(
        id=0,
        tap_id=request.tap_id,
        card_id=card.id,
        station_id=request.station_id,
        route_id=card.route_id,
        route_code=request.route_code,
        validator_id=request.validator_id,
        service_kind=service_kind.value,
        event_time=event_time,
        fare_charged=outcome.fare_charged,
        fare_kind=outcome.fare_kind.value,
        is_transfer=outcome.is_transfer,
        credit_used=outcome.credit_used,
        benefit_trip_used=outcome.benefit_trip_used,
        transfers_in_window=outcome.transfers_in_window,
        window_ends_at=event_time + left if left is not None else None,
        balance_after=outcome.balance_after,
    )
    try:
        trip_id = await repository.post_tap(
            connection,
            posted,
            policy_id=in_force.id,
            window_anchor=outcome.window_anchor,
            account_id=account_id,
        )
    except repository.DuplicateTapId as exc:
        raise TapIdTaken(request.tap_id) from exc
    if outcome.uncovered:
        await repository.record_offline_risk(connection, trip_id, posted)
        log_event(logger, "tap.offline_risk", card_id=card.id, trip_id=trip_id)
    repriced = None
    if context.has_later:
        late = repricing.LateTap(
            trip_id=trip_id,
            prior=PriorTap.from_pricing(priced, outcome),
            history=history,
            card_type=CardType(card.card_type),
            profile=card.profile,
        )
        repriced = await repricing.reprice_after(
            unit,
            late,
            in_force,
            card_id=card.id,
            event_time=event_time,
            balance=outcome.balance_after,
            credit_trips_in_use=credit_trips_in_use + int(outcome.credit_used),
            account_id=account_id,
        )
        if repriced is not None:
            log_event(
                logger,
                "tap.repriced_later",
                card_id=card.id,
                trip_id=trip_id,
                trips=len(repriced.changes),
                amount=repriced.amount,
            )
    if not card.simulated:
        # The business counters are real riders' fares; the simulator counts its own.
        unit.after_commit(
            metrics.tap_committed(
                service_kind.value,
                outcome.fare_kind.value,
                outcome.fare_charged,
                is_transfer=outcome.is_transfer,
                credit_used=outcome.credit_used,
            )
        )
    cards.invalidate_after_commit(unit, cache, card.id)
    log_event(
        logger,
        "tap.priced",
        card_id=card.id,
        trip_id=trip_id,
        fare=outcome.fare_charged,
        fare_kind=outcome.fare_kind.value,
    )
    answer = _tap_out(replace(posted, id=trip_id), duplicate=False)
    if posted_web:
        answer.web_recharges_posted = posted_web
    return Applied(answer, True, outcome.uncovered, repriced)


def _service_kind(request: TapIn, card: repository.LockedCard) -> ServiceKind:
    """How the boarding is priced: by the route when given, else by the station's kind."""
    if request.route_code is not None and card.route_kind is None:
        raise RouteNotFound(request.route_code)
    if request.station_id is not None and card.station_kind is None:
        raise StationNotFound(request.station_id)
    if card.route_kind is not None:
        return ServiceKind(card.route_kind)
    assert card.station_kind is not None
    return STATION_SERVICE[card.station_kind]


def _earlier(
    context: repository.TapContext, card_id: int, request: TapIn
) -> repository.PostedTap | None:
    if context.same_tap is not None:
        if context.same_tap.card_id != card_id:
            raise TapIdTaken(request.tap_id)
        return context.same_tap
    return context.double_tap


def _code(identifier: int | None) -> str | None:
    return None if identifier is None else str(identifier)


def _benefit_month(at: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """The calendar month (in the city's time zone) whose benefit trips the tap may use."""
    try:
        local = at.astimezone(ZoneInfo(settings.timezone))
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, (start + timedelta(days=32)).replace(day=1)
    except OverflowError as exc:
        raise _out_of_range() from exc


def _out_of_range() -> Unprocessable:
    # The first or last days Python can write (year 1, year 9999) moved to another time zone:
    # no tap of ours was read then, so no retry of one either; a 422, not a 500.
    return Unprocessable("event_time: is out of range")


def _prior(tap: repository.HistoryTap) -> PriorTap:
    return PriorTap(
        event_time=tap.event_time,
        service_kind=ServiceKind(tap.service_kind),
        route_code=_code(tap.route_id),
        station_code=_code(tap.station_id),
        fare_kind=FareKind(tap.fare_kind),
        fare_charged=tap.fare_charged,
    )


def _tap_out(tap: repository.PostedTap, *, duplicate: bool) -> TapOut:
    left = tap.window_ends_at - tap.event_time if tap.window_ends_at else None
    return TapOut(
        trip_id=tap.id,
        tap_id=tap.tap_id,
        card_id=tap.card_id,
        station_id=tap.station_id,
        route_code=tap.route_code,
        validator_id=tap.validator_id,
        service_kind=tap.service_kind,
        event_time=tap.event_time,
        fare_charged=tap.fare_charged,
        fare_kind=tap.fare_kind,
        is_transfer=tap.is_transfer,
        credit_used=tap.credit_used,
        benefit_trip_used=tap.benefit_trip_used,
        transfers_in_window=tap.transfers_in_window,
        transfer_window_left_seconds=int(left.total_seconds()) if left is not None else None,
        balance_after=tap.balance_after,
        duplicate=duplicate,
    )


async def end_trip(uow: UnitOfWork, cache: Cache, request: TripEndIn, now: datetime) -> TripEndOut:
    """Record where the rider left; Bogotá charges on entry, so nothing is charged."""
    session = uow.session
    await network.require_station(session, request.station_id)
    trip = await repository.lock_trip(session, request.trip_id)
    if trip is None:
        raise TripNotFound(request.trip_id)
    if trip.ended_at is not None:
        raise TripAlreadyEnded(trip.id, trip.ended_at)
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


async def trip_of(session: ReadSession, trip_id: int) -> Trip | None:
    """The trip with this id, if any (what it charged, and whose card)."""
    return await repository.trip_by_id(session, trip_id)
