"""Property tests: random cards ride random days under every shipped fare policy.

Each test simulates the card by posting every priced tap (and any recharge) before the next one,
then checks the invariants the ledger and the riders rely on. Derandomized so CI is repeatable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from random import Random

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from travel_recharge.fares.engine import (
    CardState,
    PriorTap,
    RechargeRejected,
    TapDeclined,
    TapPricing,
    TapRequest,
    card_after,
    plan_recharge,
    price_tap,
)
from travel_recharge.fares.policy import (
    CardType,
    FarePolicy,
    RechargeChannel,
    ServiceKind,
    load_shipped_policies,
)

POLICIES = load_shipped_policies()
PROFILES = sorted({name for p in POLICIES for name in p.profile_benefits} | {"unknown"})
SETTINGS = settings(derandomize=True, max_examples=300, deadline=None)
EACH_POLICY = pytest.mark.parametrize(
    "policy", POLICIES, ids=[p.effective_from.date().isoformat() for p in POLICIES]
)


@dataclass(frozen=True)
class Recharge:
    amount: int


# Mostly minutes apart so windows, transfers and their limits happen; sometimes hours apart.
_GAPS = st.one_of(st.integers(0, 40 * 60), st.integers(0, 5 * 3600))
# Few routes and stops so repeats (not transfers) happen; None models a validator without one.
_ROUTES = st.sampled_from(["R1", "R2", "R3", None])
_STOPS = st.sampled_from(["S1", "S2", None])
# Trunk and zonal weigh double: the pair that carried a transfer cost in 2023.
_KINDS = st.sampled_from([*ServiceKind, ServiceKind.TRUNK, ServiceKind.ZONAL])


Day = tuple[CardState, list[TapRequest | Recharge]]


@st.composite
def riding_days(draw: st.DrawFn, policy: FarePolicy) -> Day:
    fare = policy.highest_full_fare()
    card = CardState(
        card_type=draw(st.sampled_from(CardType)),
        balance=draw(st.integers(0, 12 * fare)),
        credit_trips_in_use=0,
        profile=draw(st.sampled_from([None, *PROFILES])),
        benefit_trips_used_this_month=draw(st.integers(0, 45)),
    )
    # From a day after the policy starts; 40 gaps of at most 5 hours stay inside one month.
    when = policy.effective_from + timedelta(days=1)
    steps: list[TapRequest | Recharge] = []
    for _ in range(draw(st.integers(1, 40))):
        when += timedelta(seconds=draw(_GAPS))
        steps.append(TapRequest(when, draw(_KINDS), draw(_ROUTES), draw(_STOPS)))
    for _ in range(draw(st.integers(0, 8))):
        amount = draw(st.integers(policy.recharge_min, 10 * fare))
        steps.insert(draw(st.integers(0, len(steps))), Recharge(amount))
    return card, steps


def _check_pricing(
    card: CardState, tap: TapRequest, priced: TapPricing, policy: FarePolicy
) -> None:
    full = policy.full_fare(tap.service_kind)
    assert 0 <= priced.fare_charged <= full
    assert priced.balance_after == card.balance - priced.fare_charged
    if card.card_type is CardType.BASIC:
        assert priced.fare_charged == full
        assert (priced.is_transfer, priced.credit_used, priced.benefit_trip_used) == (False,) * 3
        assert (priced.window_anchor, priced.transfer_window_left) == (None, None)
    if priced.is_transfer:
        # Even a late transfer is one of the first max_transfers among the taps before it.
        assert 1 <= priced.transfers_in_window <= policy.max_transfers
        assert priced.window_anchor is not None
        assert timedelta(0) <= tap.event_time - priced.window_anchor <= policy.transfer_window
        assert not priced.benefit_trip_used
    if priced.benefit_trip_used:
        benefit = policy.profile_benefits[card.profile or ""]
        assert benefit.has_trips_left(card.benefit_trips_used_this_month)


def _recharged(card: CardState, amount: int, policy: FarePolicy) -> CardState:
    try:
        plan = plan_recharge(
            card.balance, card.credit_trips_in_use, amount, policy, RechargeChannel.POS
        )
    except RechargeRejected:
        return card  # above the maximum balance: the point of sale refuses it
    return replace(
        card, balance=plan.new_balance, credit_trips_in_use=plan.credit_trips_in_use_after
    )


def _check_card(card: CardState, policy: FarePolicy) -> None:
    assert 0 <= card.credit_trips_in_use <= policy.credit_trips
    assert card.balance >= -policy.credit_trips * policy.highest_full_fare()
    if card.card_type is CardType.BASIC:
        assert card.balance >= 0


@EACH_POLICY
@SETTINGS
@given(data=st.data())
def test_a_riding_day_keeps_every_fare_invariant(policy: FarePolicy, data: st.DataObject) -> None:
    card, steps = data.draw(riding_days(policy))
    history: list[PriorTap] = []
    transfers_per_anchor: Counter[datetime] = Counter()
    for step in steps:
        if isinstance(step, Recharge):
            card = _recharged(card, step.amount, policy)
            continue
        outcome = price_tap(card, history, step, policy)
        event("declined" if isinstance(outcome, TapDeclined) else outcome.fare_kind.value)
        if isinstance(outcome, TapDeclined):
            assert outcome.fare_due > 0
            assert card.balance < outcome.fare_due
            assert card.card_type is CardType.BASIC or (
                card.credit_trips_in_use >= policy.credit_trips
            )
            continue
        _check_pricing(card, step, outcome, policy)
        if outcome.is_transfer and outcome.fare_charged > 0:
            event("transfer with a cost")
        if outcome.is_transfer and outcome.window_anchor is not None:
            transfers_per_anchor[outcome.window_anchor] += 1
            assert transfers_per_anchor[outcome.window_anchor] <= policy.max_transfers
        card = card_after(card, outcome)
        history.append(PriorTap.from_pricing(step, outcome))
        _check_card(card, policy)


@EACH_POLICY
@SETTINGS
@given(data=st.data(), random=st.randoms(use_true_random=False))
def test_late_taps_are_priced_from_the_earlier_taps_only(
    policy: FarePolicy, data: st.DataObject, random: Random
) -> None:
    card, steps = data.draw(riding_days(policy))
    taps = [step for step in steps if isinstance(step, TapRequest)]
    random.shuffle(taps)  # validators that were offline deliver in any order
    history: list[PriorTap] = []
    for tap in taps:
        outcome = price_tap(card, history, tap, policy)
        earlier = [prior for prior in history if prior.event_time <= tap.event_time]
        assert outcome == price_tap(card, earlier, tap, policy)
        if isinstance(outcome, TapPricing):
            _check_pricing(card, tap, outcome, policy)
            card = card_after(card, outcome)
            history.append(PriorTap.from_pricing(tap, outcome))
            _check_card(card, policy)


@SETTINGS
@given(
    policy=st.sampled_from(POLICIES),
    balance=st.integers(-8000, 430_000),
    credit=st.integers(0, 2),
    amount=st.integers(-100, 450_000),
    channel=st.sampled_from(RechargeChannel),
)
def test_a_recharge_is_accepted_exactly_within_its_limits(
    policy: FarePolicy, balance: int, credit: int, amount: int, channel: RechargeChannel
) -> None:
    low, high = policy.recharge_limits(channel)
    if not (low <= amount <= high and balance + amount <= policy.max_balance):
        with pytest.raises(RechargeRejected) as rejected:
            plan_recharge(balance, credit, amount, policy, channel)
        assert rejected.value.field == "amount"
        return
    plan = plan_recharge(balance, credit, amount, policy, channel)
    assert plan.new_balance == balance + amount
    assert plan.credit_repaid == min(amount, max(0, -balance))
    restored = plan.new_balance >= policy.highest_full_fare()
    assert plan.credit_trips_in_use_after == (0 if restored else credit)
