"""Repricing the taps read after a late tap, and settling the difference in the ledger.

The later taps are priced again, in event-time order, by the same engine against the taps
before each (the late one included, earlier repricings applied). A fare that changes is a
repricing; their sum, charged minus due, is one adjustment entry (positive: the card gets
money back). A kind that changes without its fare (a full fare turned credit trip, say) is
recorded too: the taps after it are priced by it.

A profile's monthly benefit trips go to taps in the order they reach the service (a late
tap gets one only if the month has one left when it arrives): a later tap keeps the benefit
it had, or had not. The later taps are priced by the policy of the late tap; a later tap
under another policy ends the repricing (it and those after it keep their fares).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from travel_recharge.fares.engine import (
    CardState,
    FareKind,
    PriorTap,
    TapPricing,
    TapRequest,
    credit_after,
    price_tap,
)
from travel_recharge.fares.policy import CardType, FarePolicy, ServiceKind
from travel_recharge.fares.service import PolicyInForce
from travel_recharge.kit.db import DriverTransaction
from travel_recharge.trips.repricing import repository
from travel_recharge.trips.repricing.repository import LaterTap

# Fares do not depend on the balance, only on whether the card can ride: priced as a card
# that can always pay, so a later tap is never declined when priced again.
_ALWAYS_PAYS = 10**15
# A later tap keeps its benefit: priced with none of the month's used (it had one), or all.
_NONE_USED, _ALL_USED = 0, 10**9

effective_sql = repository.effective_sql


@dataclass(frozen=True)
class Change:
    trip_id: int
    fare_was: int
    fare_now: int
    fare_kind_now: str


@dataclass(frozen=True)
class Repricing:
    """What a late tap changed: the repriced taps, the settlement and its ledger entry."""

    changes: list[Change]
    amount: int  # > 0 credits the card
    ledger_entry_id: int | None


@dataclass(frozen=True)
class LateTap:
    """The late tap as priced, and what pricing it saw."""

    trip_id: int
    prior: PriorTap  # as the taps after it see it
    history: list[PriorTap]  # the taps before it
    card_type: CardType
    profile: str | None


def changes_of(late: LateTap, later: list[LaterTap], in_force: PolicyInForce) -> list[Change]:
    """The later taps whose fare or kind the late tap changes (pure: no database)."""
    known = [*late.history, late.prior]
    changes = []
    for tap in later:
        if tap.fare_policy_id != in_force.id:
            break
        request = TapRequest(
            tap.event_time,
            ServiceKind(tap.service_kind),
            None if tap.route_id is None else str(tap.route_id),
            None if tap.station_id is None else str(tap.station_id),
        )
        used = _NONE_USED if tap.benefit_trip_used else _ALL_USED
        card = CardState(late.card_type, _ALWAYS_PAYS, 0, late.profile, used)
        pricing = price_tap(card, known, request, in_force.policy, accepted=True)
        assert isinstance(pricing, TapPricing)  # an accepted tap is never declined
        kind = pricing.fare_kind
        if kind == FareKind.FULL and tap.fare_kind == FareKind.CREDIT:
            kind = FareKind.CREDIT  # the same fare: it rode on credit, and still counts so
        if (pricing.fare_charged, kind) != (tap.fare_charged, tap.fare_kind):
            changes.append(Change(tap.id, tap.fare_charged, pricing.fare_charged, kind.value))
        known.append(
            PriorTap(
                tap.event_time,
                request.service_kind,
                request.route_code,
                request.station_code,
                kind,
                pricing.fare_charged,
            )
        )
    return changes


async def reprice_after(
    unit: DriverTransaction,
    late: LateTap,
    in_force: PolicyInForce,
    *,
    card_id: int,
    event_time: datetime,
    balance: int,
    credit_trips_in_use: int,
    account_id: int | None,
) -> Repricing | None:
    """Reprice the card's taps read after the late one and settle the difference, in the
    late tap's transaction (the card is locked); None when nothing changed."""
    later = await repository.later_taps(unit.connection, card_id, event_time, late.trip_id)
    changes = changes_of(late, later, in_force)
    if not changes:
        return None
    amount = sum(change.fare_was - change.fare_now for change in changes)
    balance_after = balance + amount
    policy: FarePolicy = in_force.policy
    credit = (
        credit_after(balance_after, credit_trips_in_use, policy)
        if amount > 0
        else credit_trips_in_use
    )
    entry_id = await repository.settle(
        unit.connection,
        repository.Settlement(
            card_id=card_id,
            late_trip_id=late.trip_id,
            amount=amount,
            balance_after=balance_after,
            credit_trips_in_use=credit,
            note=f"late tap {late.trip_id} repriced trips "
            + ", ".join(f"{c.trip_id} ({c.fare_was} -> {c.fare_now})" for c in changes),
            account_id=account_id,
            changes=[(c.trip_id, c.fare_was, c.fare_now, c.fare_kind_now) for c in changes],
        ),
    )
    return Repricing(changes, amount, entry_id)
