"""The fare engine: prices a tap and plans a recharge from plain values.

Pure by design: no I/O, no database, no clock. The caller passes the card's state, its earlier
taps, the tap's event time and the fare policy in force at that time, so the same inputs always
give the same price and late taps can be priced exactly as if they had arrived on time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from travel_recharge.fares.policy import (
    BenefitKind,
    CardType,
    FarePolicy,
    RechargeChannel,
    ServiceKind,
)


class FareKind(StrEnum):
    """Which rule priced a tap; every kind but `transfer` opens a new fare window (an anchor)."""

    FULL = "full"
    TRANSFER = "transfer"
    CREDIT = "credit"
    FREE_TRIP = "free_trip"
    REDUCED_FARE = "reduced_fare"


@dataclass(frozen=True)
class CardState:
    card_type: CardType
    balance: int  # negative while credit trips are owed
    credit_trips_in_use: int
    profile: str | None = None
    # Free or reduced trips already used in the tap's calendar month (America/Bogota).
    benefit_trips_used_this_month: int = 0


@dataclass(frozen=True)
class TapRequest:
    event_time: datetime  # when the validator read the card, not when the tap reached us
    service_kind: ServiceKind
    route_code: str | None = None
    station_code: str | None = None


@dataclass(frozen=True)
class PriorTap:
    """An earlier tap of the same card as it was priced; history is never repriced."""

    event_time: datetime
    service_kind: ServiceKind
    route_code: str | None
    station_code: str | None
    fare_kind: FareKind
    fare_charged: int

    @classmethod
    def from_pricing(cls, tap: TapRequest, pricing: TapPricing) -> PriorTap:
        return cls(
            event_time=tap.event_time,
            service_kind=tap.service_kind,
            route_code=tap.route_code,
            station_code=tap.station_code,
            fare_kind=pricing.fare_kind,
            fare_charged=pricing.fare_charged,
        )


@dataclass(frozen=True)
class TapPricing:
    fare_charged: int
    fare_kind: FareKind
    is_transfer: bool
    credit_used: bool  # the service adds one to the card's credit trips in use
    benefit_trip_used: bool  # the service adds one to the card's benefit trips this month
    transfers_in_window: int
    window_anchor: datetime | None
    transfer_window_left: timedelta | None  # None when no transfer can follow this tap
    balance_after: int
    # An accepted tap (see price_tap) the card could neither pay nor ride on credit: its fare
    # took the balance below what the card may owe (an offline validator's risk).
    uncovered: bool = False


@dataclass(frozen=True)
class TapDeclined:
    """The card cannot pay and cannot ride on credit (the service answers 402)."""

    reason: str
    fare_due: int


TapOutcome = TapPricing | TapDeclined


@dataclass(frozen=True)
class _Window:
    """The fare window open before a tap: its anchor, transfers since, and the tap before."""

    anchor: datetime
    transfers: int
    previous: PriorTap


def _rides_free_service(tap: PriorTap) -> bool:
    # A full fare of 0 is a free service (feeders). Such taps must not open or continue a
    # window, or a free feeder ride would turn the next paid boarding into a free transfer.
    return tap.fare_kind == FareKind.FULL and tap.fare_charged == 0


def _window_before(history: Iterable[PriorTap], at: datetime) -> _Window | None:
    earlier = sorted(
        (tap for tap in history if tap.event_time <= at and not _rides_free_service(tap)),
        key=lambda tap: tap.event_time,
    )
    anchors = [i for i, tap in enumerate(earlier) if tap.fare_kind != FareKind.TRANSFER]
    if not anchors:
        return None
    since_anchor = earlier[anchors[-1] + 1 :]
    return _Window(
        anchor=earlier[anchors[-1]].event_time,
        transfers=sum(tap.fare_kind == FareKind.TRANSFER for tap in since_anchor),
        previous=earlier[-1],
    )


def _is_new_boarding(previous: PriorTap, tap: TapRequest) -> bool:
    """Boarding the same route again or tapping again at the same stop is not a transfer."""
    same_route = tap.route_code is not None and tap.route_code == previous.route_code
    same_stop = tap.station_code is not None and tap.station_code == previous.station_code
    return not (same_route or same_stop)


def _within(anchor: datetime, at: datetime, policy: FarePolicy) -> bool:
    # Inclusive: a tap exactly `transfer_window` after the anchor is still inside the window.
    return at - anchor <= policy.transfer_window


def _transfer_window(
    card: CardState, history: Iterable[PriorTap], tap: TapRequest, policy: FarePolicy
) -> _Window | None:
    """The window this tap transfers in, or None when it must start a new fare."""
    if card.card_type != CardType.PERSONALIZED:
        return None
    window = _window_before(history, tap.event_time)
    if (
        window is None
        or not _within(window.anchor, tap.event_time, policy)
        or window.transfers >= policy.max_transfers
        or not _is_new_boarding(window.previous, tap)
    ):
        return None
    return window


def _new_fare(card: CardState, kind: ServiceKind, policy: FarePolicy) -> tuple[int, FareKind]:
    """The fare of a tap that opens a window, after the card profile's monthly benefit."""
    full = policy.full_fare(kind)
    benefit = policy.profile_benefits.get(card.profile) if card.profile else None
    if (
        benefit is None
        or card.card_type != CardType.PERSONALIZED
        or not benefit.has_trips_left(card.benefit_trips_used_this_month)
    ):
        return full, FareKind.FULL
    if benefit.kind is BenefitKind.FREE_TRIPS:
        return 0, FareKind.FREE_TRIP
    # A reduced fare that does not lower this fare would only waste a monthly benefit trip.
    if benefit.reduced_fare is not None and benefit.reduced_fare < full:
        return benefit.reduced_fare, FareKind.REDUCED_FARE
    return full, FareKind.FULL


@dataclass(frozen=True)
class _Rule:
    """What the fare rules ask of a tap before checking whether the card can pay it."""

    fare: int
    fare_kind: FareKind
    anchor: datetime | None
    transfers: int


def _apply_rules(
    card: CardState, history: Iterable[PriorTap], tap: TapRequest, policy: FarePolicy
) -> _Rule:
    personalized = card.card_type == CardType.PERSONALIZED
    if policy.full_fare(tap.service_kind) == 0:
        # A free service leaves the open window as it was (see _rides_free_service).
        window = _window_before(history, tap.event_time) if personalized else None
        if window is None or not _within(window.anchor, tap.event_time, policy):
            return _Rule(0, FareKind.FULL, None, 0)
        return _Rule(0, FareKind.FULL, window.anchor, window.transfers)
    window = _transfer_window(card, history, tap, policy)
    if window is not None:
        cost = policy.transfer_cost(window.previous.service_kind, tap.service_kind)
        return _Rule(cost, FareKind.TRANSFER, window.anchor, window.transfers + 1)
    fare, fare_kind = _new_fare(card, tap.service_kind, policy)
    return _Rule(fare, fare_kind, tap.event_time if personalized else None, 0)


def _window_left(rule: _Rule, at: datetime, policy: FarePolicy) -> timedelta | None:
    if rule.anchor is None or rule.transfers >= policy.max_transfers:
        return None
    return rule.anchor + policy.transfer_window - at


def _needs_credit(card: CardState, fare: int) -> bool:
    # A free tap never needs credit, however negative the balance already is.
    return fare > 0 and card.balance < fare


def _decline_reason(card: CardState, fare: int, policy: FarePolicy) -> str | None:
    """Why the card can neither pay `fare` nor ride on credit, or None when it can ride."""
    if not _needs_credit(card, fare):
        return None
    if card.card_type != CardType.PERSONALIZED:
        return f"insufficient balance: {card.balance} < {fare} and basic cards have no credit"
    if card.credit_trips_in_use >= policy.credit_trips:
        return (
            f"insufficient balance: {card.balance} < {fare} and all "
            f"{policy.credit_trips} credit trips are in use"
        )
    return None


def price_tap(
    card: CardState,
    history: Sequence[PriorTap],
    tap: TapRequest,
    policy: FarePolicy,
    *,
    accepted: bool = False,
) -> TapOutcome:
    """Price one tap, or decline it when the card can neither pay nor ride on credit.

    `accepted`: the rider already rode (an offline validator let the card through); never
    declined, the fare is charged whatever the balance, and `uncovered` says when it passed
    what the card could pay or ride on credit.

    `history` holds the card's earlier priced taps; those after `tap.event_time` are ignored, so
    a late tap sees only what happened before it. Taps from `tap.event_time - transfer_window`
    on are enough. `policy` must be the one in force at `tap.event_time`.
    """
    if tap.event_time.tzinfo is None:
        raise ValueError("tap event_time must be timezone-aware")
    if tap.event_time < policy.effective_from:
        raise ValueError("the fare policy was not in force at the tap's event time")

    rule = _apply_rules(card, history, tap, policy)
    reason = _decline_reason(card, rule.fare, policy)
    if reason is not None and not accepted:
        return TapDeclined(reason=reason, fare_due=rule.fare)
    is_transfer = rule.fare_kind == FareKind.TRANSFER
    # A transfer on credit stays a transfer: the kind must keep telling anchors from transfers.
    # An uncovered tap used no credit trip: the card had none to give.
    credit_used = reason is None and _needs_credit(card, rule.fare)
    return TapPricing(
        fare_charged=rule.fare,
        fare_kind=FareKind.CREDIT if credit_used and not is_transfer else rule.fare_kind,
        is_transfer=is_transfer,
        credit_used=credit_used,
        benefit_trip_used=rule.fare_kind in (FareKind.FREE_TRIP, FareKind.REDUCED_FARE),
        transfers_in_window=rule.transfers,
        window_anchor=rule.anchor,
        transfer_window_left=_window_left(rule, tap.event_time, policy),
        balance_after=card.balance - rule.fare,
        uncovered=reason is not None,
    )


def card_after(card: CardState, pricing: TapPricing) -> CardState:
    """The card once a priced tap is posted; the caller resets benefit trips each month."""
    return replace(
        card,
        balance=pricing.balance_after,
        credit_trips_in_use=card.credit_trips_in_use + int(pricing.credit_used),
        benefit_trips_used_this_month=(
            card.benefit_trips_used_this_month + int(pricing.benefit_trip_used)
        ),
    )


@dataclass(frozen=True)
class RechargePlan:
    new_balance: int
    credit_repaid: int  # the part of the amount that paid back a negative balance
    credit_trips_in_use_after: int


class RechargeRejected(ValueError):
    """A recharge outside the channel's limits or above the maximum balance (a 422 for clients)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def plan_recharge(
    balance: int,
    credit_trips_in_use: int,
    amount: int,
    policy: FarePolicy,
    channel: RechargeChannel,
) -> RechargePlan:
    """What a recharge does to a card: repay any credit first, then restore credit if earned."""
    low, high = policy.recharge_limits(channel)
    if not low <= amount <= high:
        raise RechargeRejected("amount", f"a {channel} recharge must be {low} to {high}")
    new_balance = balance + amount
    if new_balance > policy.max_balance:
        raise RechargeRejected(
            "amount", f"the balance would be {new_balance}, above the maximum {policy.max_balance}"
        )
    return RechargePlan(
        new_balance=new_balance,
        credit_repaid=min(amount, max(0, -balance)),
        credit_trips_in_use_after=credit_after(new_balance, credit_trips_in_use, policy),
    )


def credit_after(new_balance: int, credit_trips_in_use: int, policy: FarePolicy) -> int:
    """The credit trips still in use once money reaches the card (a recharge, a refund):
    credit comes back only once the card could pay any full fare again without it."""
    return 0 if new_balance >= policy.highest_full_fare() else credit_trips_in_use
