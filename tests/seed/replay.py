"""An independent replay of generated money: every posting re-derived with the fare engine.

It walks each card's ledger in order, the way the live service would have posted it, and
asserts that each tap is priced exactly as price_tap prices it (policy in force at its event
time, the card's state and earlier taps), that each top-up is what plan_recharge plans, and
that the balance_after chain and the stored balance agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from travel_recharge.fares.engine import (
    CardState,
    PriorTap,
    TapPricing,
    TapRequest,
    card_after,
    plan_recharge,
    price_tap,
)
from travel_recharge.fares.policy import CardType, FarePolicy, RechargeChannel, ServiceKind

CITY = ZoneInfo("America/Bogota")
Row = Mapping[str, Any]


@dataclass
class Posting:
    """A tap or a top-up and the ledger entries it appended: (kind, amount, balance_after)."""

    trip: Row | None
    recharge: Row | None
    entries: list[tuple[str, int, int]] = field(default_factory=list)


def postings(
    ledger: Iterable[tuple[int, str, int, int, Any, Any]],
    trips: Mapping[Any, Row],
    recharges: Mapping[Any, Row],
) -> dict[int, list[Posting]]:
    """Group ledger rows (card, kind, amount, balance_after, recharge key, trip key), given in
    posting order, into each card's postings."""
    by_card: dict[int, list[Posting]] = {}
    for card_id, kind, amount, balance_after, recharge_key, trip_key in ledger:
        card = by_card.setdefault(card_id, [])
        recharge = recharges[recharge_key] if recharge_key is not None else None
        if not (recharge is not None and card and card[-1].recharge is recharge):
            trip = trips[trip_key] if trip_key is not None else None
            card.append(Posting(trip, recharge))
        card[-1].entries.append((kind, amount, balance_after))
    return by_card


def _in_force(policies: Sequence[tuple[int, FarePolicy]], at: datetime) -> tuple[int, FarePolicy]:
    return max(
        (p for p in policies if p[1].effective_from <= at), key=lambda p: p[1].effective_from
    )


def _code(value: Any) -> str | None:
    return None if value is None else str(value)


def replay_card(
    card: Row, posted: Sequence[Posting], policies: Sequence[tuple[int, FarePolicy]]
) -> int:
    """Re-derive one card's postings; returns how many taps were checked."""
    state = CardState(CardType(card["card_type"]), 0, 0, card["profile"])
    history: list[PriorTap] = []
    month: tuple[int, int] | None = None
    taps = 0
    for posting in posted:
        before = state.balance
        if posting.recharge is not None:
            r = posting.recharge
            policy = _in_force(policies, r["created_at"])[1]
            plan = plan_recharge(
                state.balance, state.credit_trips_in_use, r["amount"], policy, RechargeChannel.POS
            )
            assert (r["credit_repaid"], r["new_balance"]) == (plan.credit_repaid, plan.new_balance)
            parts = [
                ("credit_repayment", plan.credit_repaid),
                ("recharge", r["amount"] - plan.credit_repaid),
            ]
            expected = []
            for kind, part in parts:
                if part:
                    before += part
                    expected.append((kind, part, before))
            assert posting.entries == expected
            state = replace(
                state, balance=plan.new_balance, credit_trips_in_use=plan.credit_trips_in_use_after
            )
            continue
        t = posting.trip
        assert t is not None
        local = t["event_time"].astimezone(CITY)
        if (local.year, local.month) != month:
            month = (local.year, local.month)
            state = replace(state, benefit_trips_used_this_month=0)
        policy_id, policy = _in_force(policies, t["event_time"])
        request = TapRequest(
            t["event_time"],
            ServiceKind(t["service_kind"]),
            _code(t["route_id"]),
            _code(t["station_id"]),
        )
        outcome = price_tap(state, history, request, policy)
        assert isinstance(outcome, TapPricing), outcome
        left = outcome.transfer_window_left
        stored = (
            t["fare_policy_id"], t["fare_charged"], t["fare_kind"], t["is_transfer"],
            t["credit_used"], t["benefit_trip_used"], t["transfers_in_window"],
            t["window_anchor"], t["window_ends_at"], t["balance_after"],
        )  # fmt: skip
        assert stored == (
            policy_id, outcome.fare_charged, outcome.fare_kind.value, outcome.is_transfer,
            outcome.credit_used, outcome.benefit_trip_used, outcome.transfers_in_window,
            outcome.window_anchor, None if left is None else t["event_time"] + left,
            outcome.balance_after,
        )  # fmt: skip
        assert posting.entries == [("fare", -outcome.fare_charged, outcome.balance_after)]
        state = card_after(state, outcome)
        history.append(PriorTap.from_pricing(request, outcome))
        taps += 1
    assert card["balance"] == state.balance
    assert card["credit_trips_in_use"] == state.credit_trips_in_use
    return taps
