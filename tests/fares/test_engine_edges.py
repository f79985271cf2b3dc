"""Edges of the fare rules that `make mutation` found unguarded, with hand-computed fares.

Each test pins a rule the other engine tests let a mutant of fares/engine.py break unseen:
the window a free feeder ride reports, a balance exactly equal to the fare, a one-peso fare,
and a reduced fare that would not lower the full fare. Policies other than the shipped ones
are the 2023 policy with another zonal fare, so only that fare explains the expected price.
"""

from __future__ import annotations

from datetime import timedelta

from tests.fares.test_engine import CABLE, FEEDER, POLICIES, TRUNK, ZONAL, Rider, at, card
from travel_recharge.fares.engine import (
    CardState,
    FareKind,
    TapDeclined,
    TapOutcome,
    TapPricing,
    TapRequest,
    price_tap,
)
from travel_recharge.fares.policy import FarePolicy, ServiceKind, policy_from_dict, policy_to_dict

DAY_2023 = "2023-06-01"  # the 2023 policy: zonal 2750, trunk 2950, a 110-minute window


def policy_2023_with_zonal_fare(fare: int) -> FarePolicy:
    """The 2023 policy (trunk 2950, elderly 2500 for 30 trips a month) with another zonal fare."""
    document = policy_to_dict(POLICIES[0])
    return policy_from_dict(document | {"base_fares": {**document["base_fares"], "zonal": fare}})


def first_tap(state: CardState, kind: ServiceKind, policy: FarePolicy) -> TapOutcome:
    return price_tap(state, [], TapRequest(at(DAY_2023), kind, "R1"), policy)


def priced(outcome: TapOutcome) -> TapPricing:
    assert isinstance(outcome, TapPricing), outcome
    return outcome


# --- a free feeder ride reports the window it rides in, and changes nothing of it -----------


def test_a_feeder_ride_inside_a_window_reports_that_window() -> None:
    rider = Rider(card())
    rider.pay(at(DAY_2023, "06:20"), ZONAL, "Z1")  # opens a 110-minute window at 06:20
    feeder = rider.pay(at(DAY_2023, "06:40"), FEEDER, "F1")
    assert (feeder.fare_charged, feeder.fare_kind, feeder.is_transfer) == (0, FareKind.FULL, False)
    assert (feeder.window_anchor, feeder.transfers_in_window) == (at(DAY_2023, "06:20"), 0)
    assert feeder.transfer_window_left == timedelta(minutes=90)
    rider.pay(at(DAY_2023, "07:00"), TRUNK, "B1")  # the first transfer (200)
    second = rider.pay(at(DAY_2023, "07:10"), FEEDER, "F2")
    assert (second.window_anchor, second.transfers_in_window) == (at(DAY_2023, "06:20"), 1)
    assert second.transfer_window_left == timedelta(minutes=60)
    rider.pay(at(DAY_2023, "07:20"), CABLE, "TC1")  # the second transfer: none is left
    last = rider.pay(at(DAY_2023, "07:30"), FEEDER, "F3")
    assert (last.window_anchor, last.transfers_in_window) == (at(DAY_2023, "06:20"), 2)
    assert last.transfer_window_left is None


def test_a_feeder_ride_outside_any_window_reports_none() -> None:
    rider = Rider(card())
    alone = rider.pay(at(DAY_2023, "05:00"), FEEDER, "F1")  # no earlier tap at all
    assert (alone.window_anchor, alone.transfers_in_window, alone.transfer_window_left) == (
        None,
        0,
        None,
    )
    rider.pay(at(DAY_2023, "06:00"), ZONAL, "Z1")  # its window closes at 07:50
    after = rider.pay(at(DAY_2023, "07:51"), FEEDER, "F2")
    assert (after.window_anchor, after.transfers_in_window, after.transfer_window_left) == (
        None,
        0,
        None,
    )


def test_a_feeder_ride_of_a_basic_card_reports_no_window() -> None:
    rider = Rider(card(basic=True))
    rider.pay(at(DAY_2023, "06:00"), ZONAL, "Z1")
    feeder = rider.pay(at(DAY_2023, "06:10"), FEEDER, "F1")
    assert (feeder.window_anchor, feeder.transfers_in_window, feeder.transfer_window_left) == (
        None,
        0,
        None,
    )


# --- credit starts below the fare, not at it ------------------------------------------------


def test_a_balance_equal_to_the_fare_pays_it_without_credit() -> None:
    personalized = Rider(card(3550)).pay(at("2026-03-02"), TRUNK)
    assert (personalized.fare_kind, personalized.credit_used, personalized.balance_after) == (
        FareKind.FULL,
        False,
        0,
    )
    basic = Rider(card(3550, basic=True)).pay(at("2026-03-02"), TRUNK)
    assert (basic.fare_kind, basic.credit_used, basic.balance_after) == (FareKind.FULL, False, 0)


def test_a_one_peso_fare_on_an_empty_card_needs_credit() -> None:
    policy = policy_2023_with_zonal_fare(1)
    on_credit = priced(first_tap(card(0), ZONAL, policy))
    assert (on_credit.fare_charged, on_credit.fare_kind, on_credit.credit_used) == (
        1,
        FareKind.CREDIT,
        True,
    )
    assert on_credit.balance_after == -1
    assert first_tap(card(0, basic=True), ZONAL, policy) == TapDeclined(
        reason="insufficient balance: 0 < 1 and basic cards have no credit", fare_due=1
    )


# --- a reduced fare applies only where it is lower than the full fare -----------------------


def test_a_reduced_fare_equal_to_the_full_fare_spends_no_benefit_trip() -> None:
    policy = policy_2023_with_zonal_fare(2500)
    zonal = priced(first_tap(card(profile="elderly"), ZONAL, policy))
    assert (zonal.fare_charged, zonal.fare_kind, zonal.benefit_trip_used) == (
        2500,
        FareKind.FULL,
        False,
    )
    trunk = priced(first_tap(card(profile="elderly"), TRUNK, policy))
    assert (trunk.fare_charged, trunk.fare_kind, trunk.benefit_trip_used) == (
        2500,
        FareKind.REDUCED_FARE,
        True,
    )


def test_a_full_fare_below_the_reduced_fare_is_charged_as_it_is() -> None:
    policy = policy_2023_with_zonal_fare(2400)
    zonal = priced(first_tap(card(profile="elderly"), ZONAL, policy))
    assert (zonal.fare_charged, zonal.fare_kind, zonal.benefit_trip_used) == (
        2400,
        FareKind.FULL,
        False,
    )


# --- an accepted tap (an offline validator's) is never declined -------------------------------


def accepted_tap(state: CardState) -> TapOutcome:
    request = TapRequest(at(DAY_2023), ServiceKind.TRUNK, "R1")
    return price_tap(state, [], request, POLICIES[0], accepted=True)


def test_an_accepted_tap_the_card_cannot_cover_is_charged_and_flagged_uncovered() -> None:
    basic = priced(accepted_tap(card(1_000, basic=True)))
    assert (basic.fare_charged, basic.balance_after, basic.credit_used, basic.uncovered) == (
        2950,
        1_000 - 2950,
        False,
        True,
    )
    assert basic.fare_kind == FareKind.FULL
    out_of_credit = priced(accepted_tap(card(0, credit=2)))  # both credit trips in use
    assert (out_of_credit.balance_after, out_of_credit.uncovered) == (-2950, True)
    assert not out_of_credit.credit_used
    declined = price_tap(card(0, credit=2), [], TapRequest(at(DAY_2023), TRUNK, "R1"), POLICIES[0])
    assert isinstance(declined, TapDeclined)


def test_an_accepted_tap_the_card_covers_is_priced_as_online() -> None:
    on_credit = priced(accepted_tap(card(0)))  # a credit trip is left
    assert (on_credit.fare_kind, on_credit.credit_used, on_credit.uncovered) == (
        FareKind.CREDIT,
        True,
        False,
    )
    paid = priced(accepted_tap(card(2950, basic=True)))  # exactly the fare
    assert (paid.balance_after, paid.uncovered) == (0, False)
