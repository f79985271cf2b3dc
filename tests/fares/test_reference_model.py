"""The fare engine against the reference model: the same random days, the same answers.

The properties in test_engine_properties.py check invariants that a wrong engine can keep (one
that never grants a transfer keeps them all); here every tap's whole pricing must equal what the
independent model in reference_model.py says, on days that cross the window's edges, month
boundaries and fare policy changes, with late taps mixed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.fares import reference_model as model
from tests.fares.reference_model import BOGOTA, ModelCard
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

# Starts just before each change that moves a price: a new policy (fares, window length,
# transfer cost, benefits) or a new Bogotá month (benefit quotas).
STARTS = [
    datetime(2023, 6, 15, 7, 0, tzinfo=BOGOTA),  # zonal→trunk transfers cost 200
    datetime(2024, 2, 11, 22, 0, tzinfo=BOGOTA),  # transfer cost ends at midnight
    datetime(2025, 1, 17, 22, 30, tzinfo=BOGOTA),  # window 110 → 125 min, fares 2,950 → 3,200
    datetime(2025, 1, 31, 22, 0, tzinfo=BOGOTA),  # reduced fares → free trips, new month
    datetime(2026, 3, 31, 21, 0, tzinfo=BOGOTA),  # a month boundary in 2026
]
# Seconds between taps: a quick change of bus, around the window's end (110 and 125 min),
# or hours later.
GAPS = st.one_of(
    st.integers(1, 900),
    st.integers(6550, 6650),
    st.integers(7450, 7550),
    st.integers(3600, 30 * 3600),
)
KINDS = st.sampled_from(list(ServiceKind))
ROUTES = st.sampled_from(["R1", "R2", "R3", None])
STOPS = st.sampled_from(["S1", "S2", None])


# When the next tap happens: some seconds after the latest tap, some seconds before it (a late
# tap from an offline validator), or a second around the end of the card's open window.
When = tuple[str, int]
WHENS = st.one_of(
    st.integers(1, 900).map(lambda seconds: ("after", seconds)),  # most often: a quick change
    GAPS.map(lambda seconds: ("after", seconds)),
    st.integers(1, 3 * 3600).map(lambda seconds: ("late", seconds)),
    st.integers(-1, 1).map(lambda delta: ("edge", delta)),
)
Step = tuple[When, ServiceKind, str | None, str | None]
STEPS = st.lists(st.tuples(WHENS, KINDS, ROUTES, STOPS), min_size=1, max_size=30)


def tap_time(card: ModelCard, latest: datetime, when: When) -> datetime:
    """The event time `when` names, from the latest tap's time and the card's open window."""
    how, seconds = when
    if how == "late":
        return latest - timedelta(seconds=seconds)
    if how == "edge":
        opened = model.window_opened_at(card, latest)
        if opened is not None:
            window = model.policy_at(POLICIES, opened).transfer_window
            return max(latest, opened + window + timedelta(seconds=seconds))
        seconds = 60
    return latest + timedelta(seconds=seconds)


def _engine_card(card: ModelCard, history: list[PriorTap], at: datetime) -> CardState:
    # The service counts the month's benefit trips itself (in SQL); so does this test.
    month = model.bogota_month(at)
    used = sum(
        1
        for tap in history
        if tap.fare_kind in ("free_trip", "reduced_fare")
        and model.bogota_month(tap.event_time) == month
    )
    return CardState(
        card_type=CardType.PERSONALIZED if card.personalized else CardType.BASIC,
        balance=card.balance,
        credit_trips_in_use=card.credit_trips_in_use,
        profile=card.profile,
        benefit_trips_used_this_month=used,
    )


@settings(derandomize=True, max_examples=600, deadline=None)
@given(
    personalized=st.booleans(),
    profile=st.sampled_from([None, *PROFILES]),
    balance=st.integers(0, 12_000),
    start=st.sampled_from(STARTS),
    day=STEPS,
    recharges=st.lists(st.integers(0, 420_000), max_size=6),
)
def test_the_engine_prices_every_tap_as_the_reference_model(
    personalized: bool,
    profile: str | None,
    balance: int,
    start: datetime,
    day: list[Step],
    recharges: list[int],
) -> None:
    card = ModelCard(personalized=personalized, profile=profile, balance=balance)
    history: list[PriorTap] = []
    latest = start
    for index, (when, kind, route, stop) in enumerate(day):
        at = tap_time(card, latest, when)
        latest = max(latest, at)
        if any(tap.event_time == at for tap in history):
            continue  # two taps of one card at the same second have no order to price by
        state = _engine_card(card, history, at)
        engine = price_tap(
            state, history, TapRequest(at, kind, route, stop), model.policy_at(POLICIES, at)
        )
        expected = model.post_tap(card, at, kind, route, stop, POLICIES, reprice=False)
        if isinstance(expected, model.Refused):
            event("refused")
            assert isinstance(engine, TapDeclined), (at, engine)
            assert engine.fare_due == expected.fare_due
        else:
            event(expected.fare_kind)
            assert isinstance(engine, TapPricing), (at, engine)
            left = engine.transfer_window_left
            assert (
                model.Fare(
                    fare_charged=engine.fare_charged,
                    fare_kind=engine.fare_kind.value,
                    is_transfer=engine.is_transfer,
                    credit_used=engine.credit_used,
                    benefit_trip_used=engine.benefit_trip_used,
                    transfers_in_window=engine.transfers_in_window,
                    transfer_window_left_seconds=None
                    if left is None
                    else int(left.total_seconds()),
                    balance_after=engine.balance_after,
                )
                == expected
            ), at
            history.append(PriorTap.from_pricing(TapRequest(at, kind, route, stop), engine))
            assert card_after(state, engine).balance == card.balance
            assert card_after(state, engine).credit_trips_in_use == card.credit_trips_in_use
        if index < len(recharges):
            _recharge_both(card, recharges[index], model.policy_at(POLICIES, at))


def _recharge_both(card: ModelCard, amount: int, policy: FarePolicy) -> None:
    """Plan the recharge with the engine and post it to the model: the same card after."""
    refusal = model.recharge_refusal(card, amount, policy)
    if refusal is not None:
        with pytest.raises(RechargeRejected) as refused:
            plan_recharge(
                card.balance, card.credit_trips_in_use, amount, policy, RechargeChannel.POS
            )
        assert refused.value.field == refusal
        return
    plan = plan_recharge(
        card.balance, card.credit_trips_in_use, amount, policy, RechargeChannel.POS
    )
    debt = max(0, -card.balance)
    model.post_recharge(card, amount, policy)
    assert (plan.new_balance, plan.credit_trips_in_use_after) == (
        card.balance,
        card.credit_trips_in_use,
    )
    assert plan.credit_repaid == min(amount, debt)
