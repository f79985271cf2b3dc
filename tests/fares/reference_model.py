"""A reference model of the city's fare rules, for tests only.

Written from ../shared/DOMAIN.md and the policy data, not from fares/engine.py, so that a
mistake in the engine is not repeated here. Where the engine looks backwards from a tap for its
window, the model replays the card's rides from the first one, the way a rider would count them
on paper; it is slow and obvious on purpose. The model keeps a whole card (balance, credit trips,
rides and ledger) so the tests can compare every answer the service gives, and the ledger after
it, with what the rules say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from travel_recharge.fares.policy import BenefitKind, FarePolicy, ServiceKind

BOGOTA = ZoneInfo("America/Bogota")


@dataclass(frozen=True)
class Ride:
    """A tap as the model priced it."""

    at: datetime
    service: ServiceKind
    route: str | None
    stop: str | None
    fare: int
    fare_kind: str
    benefit_trip_used: bool


@dataclass(frozen=True)
class Fare:
    """What the rules charge for a tap: the fields of the service's tap answer."""

    fare_charged: int
    fare_kind: str
    is_transfer: bool
    credit_used: bool
    benefit_trip_used: bool
    transfers_in_window: int
    transfer_window_left_seconds: int | None
    balance_after: int


@dataclass(frozen=True)
class Refused:
    """The card can neither pay nor ride on credit (402); nothing changes."""

    fare_due: int


@dataclass
class ModelCard:
    personalized: bool
    profile: str | None = None
    balance: int = 0
    credit_trips_in_use: int = 0
    status: str = "active"
    rides: list[Ride] = field(default_factory=list)
    ledger: list[tuple[str, int, int]] = field(default_factory=list)  # kind, amount, balance after
    # The card this one replaced: its rides are the same person's for the monthly benefit.
    replaced: ModelCard | None = None


def policy_at(policies: Sequence[FarePolicy], at: datetime) -> FarePolicy:
    """The policy in force at `at`: the last one that started at or before it."""
    started = [p for p in policies if p.effective_from <= at]
    assert started, f"no fare policy was in force at {at}"
    return max(started, key=lambda p: p.effective_from)


def bogota_month(at: datetime) -> tuple[int, int]:
    local = at.astimezone(BOGOTA)
    return local.year, local.month


@dataclass
class _Count:
    """The card's fare window as a rider counts it: when the last full fare was paid, how
    many transfers since, and the boarding before this one."""

    paid_at: datetime | None = None
    transfers: int = 0
    last: Ride | None = None


def _count_window(card: ModelCard, at: datetime) -> _Count:
    count = _Count()
    for ride in sorted(card.rides, key=lambda r: r.at):
        if ride.at > at:
            break
        if ride.fare == 0 and ride.fare_kind == "full":
            continue  # a free service (feeder) neither opens nor continues a window
        if ride.fare_kind == "transfer":
            count.transfers += 1
        else:
            count.paid_at, count.transfers = ride.at, 0
        count.last = ride
    return count


def window_opened_at(card: ModelCard, at: datetime) -> datetime | None:
    """When the card last paid the fare that opens a transfer window, as of `at`."""
    return _count_window(card, at).paid_at


def _benefit_trips_used(card: ModelCard, at: datetime) -> int:
    month = bogota_month(at)
    used = sum(
        1 for ride in card.rides if ride.benefit_trip_used and bogota_month(ride.at) == month
    )
    # Monthly benefits are the person's: the trips of a card they lost count too.
    return used + (_benefit_trips_used(card.replaced, at) if card.replaced else 0)


def _opening_fare(card: ModelCard, full: int, at: datetime, policy: FarePolicy) -> tuple[int, str]:
    benefit = policy.profile_benefits.get(card.profile or "")
    if not card.personalized or benefit is None:
        return full, "full"
    quota = benefit.trips_per_month
    if quota is not None and _benefit_trips_used(card, at) >= quota:
        return full, "full"
    if benefit.kind is BenefitKind.FREE_TRIPS:
        return 0, "free_trip"
    assert benefit.reduced_fare is not None
    if benefit.reduced_fare >= full:
        return full, "full"  # no saving: the monthly trip is kept for a dearer fare
    return benefit.reduced_fare, "reduced_fare"


@dataclass(frozen=True)
class _Rule:
    fare: int
    fare_kind: str
    paid_at: datetime | None
    transfers: int


def _rule(
    card: ModelCard,
    at: datetime,
    service: ServiceKind,
    route: str | None,
    stop: str | None,
    policy: FarePolicy,
    opening: Callable[[int], tuple[int, str]],
) -> _Rule:
    """The fare and kind of a boarding against the card's rides before it; `opening` prices
    a boarding that opens a window (from the full fare)."""
    full = policy.base_fares[service]
    window = _count_window(card, at)
    window_open = (
        card.personalized
        and window.paid_at is not None
        and at - window.paid_at <= policy.transfer_window
    )
    paid_at: datetime | None
    if full == 0:
        fare, fare_kind = 0, "full"
        paid_at, transfers = (window.paid_at, window.transfers) if window_open else (None, 0)
    else:
        last = window.last
        again = last is not None and (
            (route is not None and route == last.route) or (stop is not None and stop == last.stop)
        )
        if window_open and window.transfers < policy.max_transfers and not again:
            assert last is not None
            fare = policy.transfer_costs.get((last.service, service), 0)
            fare_kind, paid_at, transfers = "transfer", window.paid_at, window.transfers + 1
        else:
            fare, fare_kind = opening(full)
            paid_at, transfers = (at if card.personalized else None), 0
    return _Rule(fare, fare_kind, paid_at, transfers)


def price(
    card: ModelCard,
    at: datetime,
    service: ServiceKind,
    route: str | None,
    stop: str | None,
    policies: Sequence[FarePolicy],
) -> Fare | Refused:
    """What the rules charge for this tap, without changing the card."""
    policy = policy_at(policies, at)
    rule = _rule(
        card, at, service, route, stop, policy, lambda full: _opening_fare(card, full, at, policy)
    )
    fare, fare_kind, paid_at, transfers = rule.fare, rule.fare_kind, rule.paid_at, rule.transfers
    on_credit = fare > 0 and card.balance < fare
    if on_credit and (not card.personalized or card.credit_trips_in_use >= policy.credit_trips):
        return Refused(fare)
    left = None
    if paid_at is not None and transfers < policy.max_transfers:
        left = int((paid_at + policy.transfer_window - at).total_seconds())
    return Fare(
        fare_charged=fare,
        fare_kind="credit" if on_credit and fare_kind != "transfer" else fare_kind,
        is_transfer=fare_kind == "transfer",
        credit_used=on_credit,
        benefit_trip_used=fare_kind in ("free_trip", "reduced_fare"),
        transfers_in_window=transfers,
        transfer_window_left_seconds=left,
        balance_after=card.balance - fare,
    )


def post_tap(
    card: ModelCard,
    at: datetime,
    service: ServiceKind,
    route: str | None,
    stop: str | None,
    policies: Sequence[FarePolicy],
    *,
    reprice: bool = True,
) -> Fare | Refused:
    """Price the tap and, when it rides, post it to the card as the service must; a late tap
    reprices the rides after it unless `reprice` is off (the engine prices one tap alone)."""
    outcome = price(card, at, service, route, stop, policies)
    if isinstance(outcome, Fare):
        card.rides.append(
            Ride(
                at,
                service,
                route,
                stop,
                outcome.fare_charged,
                outcome.fare_kind,
                outcome.benefit_trip_used,
            )
        )
        card.balance = outcome.balance_after
        card.credit_trips_in_use += int(outcome.credit_used)
        card.ledger.append(("fare", -outcome.fare_charged, card.balance))
        if reprice:
            _reprice_later(card, card.rides[-1], policy_at(policies, at), policies)
    return outcome


def _kept_benefit(
    card: ModelCard, ride: Ride, policy: FarePolicy
) -> Callable[[int], tuple[int, str]]:
    """A ride taken keeps the monthly benefit it had, or had not: benefits go to taps in the
    order they reach the service."""

    def opening(full: int) -> tuple[int, str]:
        benefit = policy.profile_benefits.get(card.profile or "")
        if not ride.benefit_trip_used or benefit is None:
            return full, "full"
        if benefit.kind is BenefitKind.FREE_TRIPS:
            return 0, "free_trip"
        assert benefit.reduced_fare is not None
        return benefit.reduced_fare, "reduced_fare"

    return opening


def _reprice_later(
    card: ModelCard, late: Ride, policy: FarePolicy, policies: Sequence[FarePolicy]
) -> None:
    """A tap read before rides already taken: each later ride, in time order, costs what the
    rules say against the rides before it now (never refused: it was ridden). The difference
    is settled by one adjustment; the rides count as repriced from then on. Rides under
    another fare policy than the late tap's, and those after them, keep their fares."""
    later = sorted((r for r in card.rides if r.at > late.at), key=lambda r: r.at)
    settled = 0
    for ride in later:
        if policy_at(policies, ride.at) is not policy:
            break
        before = replace(card, rides=[r for r in card.rides if r is not ride])
        opening = _kept_benefit(card, ride, policy)
        rule = _rule(before, ride.at, ride.service, ride.route, ride.stop, policy, opening)
        kind = rule.fare_kind
        if kind == "full" and ride.fare_kind == "credit":
            kind = "credit"  # the same fare, ridden on credit
        if (rule.fare, kind) != (ride.fare, ride.fare_kind):
            settled += ride.fare - rule.fare
            card.rides[card.rides.index(ride)] = replace(ride, fare=rule.fare, fare_kind=kind)
    if settled:
        card.balance += settled
        card.ledger.append(("adjustment", settled, card.balance))
        if settled > 0 and card.balance >= max(policy.base_fares.values()):
            card.credit_trips_in_use = 0


def recharge_refusal(card: ModelCard, amount: int, policy: FarePolicy) -> str | None:
    """Why a point-of-sale recharge is refused (the field and problem), or None."""
    if not policy.recharge_min <= amount <= policy.recharge_max:
        return "amount"
    if card.balance + amount > policy.max_balance:
        return "amount"
    return None


def post_recharge(card: ModelCard, amount: int, policy: FarePolicy) -> None:
    """A point-of-sale recharge: the debt of credit trips first, then the rest."""
    debt = max(0, -card.balance)
    repaid = min(amount, debt)
    for kind, part in (("credit_repayment", repaid), ("recharge", amount - repaid)):
        if part:
            card.balance += part
            card.ledger.append((kind, part, card.balance))
    # Credit comes back once the card can pay the dearest full fare on its own.
    if card.balance >= max(policy.base_fares.values()):
        card.credit_trips_in_use = 0
