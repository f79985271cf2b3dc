"""Example-based tests of the fare policy data and the fare engine, with hand-computed fares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

import pytest

from travel_recharge.fares.engine import (
    CardState,
    FareKind,
    PriorTap,
    RechargeRejected,
    TapDeclined,
    TapOutcome,
    TapPricing,
    TapRequest,
    card_after,
    plan_recharge,
    price_tap,
)
from travel_recharge.fares.policy import (
    BenefitKind,
    CardType,
    FarePolicy,
    RechargeChannel,
    ServiceKind,
    load_shipped_policies,
    policies_from_dicts,
    policy_from_dict,
    policy_in_force,
    policy_to_dict,
)

BOGOTA = ZoneInfo("America/Bogota")
POLICIES = load_shipped_policies()
TRUNK, CABLE, ZONAL, FEEDER = (
    ServiceKind.TRUNK,
    ServiceKind.CABLE,
    ServiceKind.ZONAL,
    ServiceKind.FEEDER,
)
POS, WEB = RechargeChannel.POS, RechargeChannel.WEB


def at(day: str, clock: str = "08:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BOGOTA)


def card(
    balance: int = 100_000,
    *,
    basic: bool = False,
    credit: int = 0,
    profile: str | None = None,
    used: int = 0,
) -> CardState:
    card_type = CardType.BASIC if basic else CardType.PERSONALIZED
    return CardState(card_type, balance, credit, profile, used)


class Rider:
    """One card riding through a day: each priced tap is posted before the next."""

    def __init__(self, state: CardState) -> None:
        self.card = state
        self.history: list[PriorTap] = []

    def tap(
        self, when: datetime, kind: ServiceKind, route: str | None = None, stop: str | None = None
    ) -> TapOutcome:
        request = TapRequest(when, kind, route, stop)
        outcome = price_tap(self.card, self.history, request, policy_in_force(POLICIES, when))
        if isinstance(outcome, TapPricing):
            self.card = card_after(self.card, outcome)
            self.history.append(PriorTap.from_pricing(request, outcome))
        return outcome

    def pay(
        self, when: datetime, kind: ServiceKind, route: str | None = None, stop: str | None = None
    ) -> TapPricing:
        outcome = self.tap(when, kind, route, stop)
        assert isinstance(outcome, TapPricing), outcome
        return outcome


# --- shipped fare policies -------------------------------------------------------------------


def test_shipped_policies_are_five_versions_sorted_by_start() -> None:
    starts = [p.effective_from for p in POLICIES]
    assert [s.isoformat() for s in starts] == [
        "2023-02-01T00:00:00-05:00",
        "2024-02-12T00:00:00-05:00",
        "2025-01-18T00:00:00-05:00",
        "2025-02-01T00:00:00-05:00",
        "2026-01-14T00:00:00-05:00",
    ]
    fares = [(p.full_fare(TRUNK), p.full_fare(CABLE), p.full_fare(ZONAL)) for p in POLICIES]
    trunk_and_zonal = [(t, z) for t, c, z in fares if t == c]
    assert trunk_and_zonal == [(2950, 2750), (2950, 2950), (3200, 3200), (3200, 3200), (3550, 3550)]
    windows = [p.transfer_window / timedelta(minutes=1) for p in POLICIES]
    assert windows == [110, 110, 125, 125, 125]
    assert dict(POLICIES[0].transfer_costs) == {(ZONAL, TRUNK): 200}
    assert all(not p.transfer_costs for p in POLICIES[1:])


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.effective_from.date().isoformat())
def test_every_shipped_policy_shares_the_card_and_recharge_rules(policy: FarePolicy) -> None:
    assert policy.full_fare(FEEDER) == 0
    assert (policy.max_transfers, policy.credit_trips, policy.card_price) == (2, 2, 8000)
    assert policy.recharge_limits(POS) == (50, 418_000)
    assert policy.recharge_limits(WEB) == (10_000, 200_000)
    assert policy.max_balance == 418_000
    assert policy_from_dict(policy_to_dict(policy)) == policy


def test_profiles_switch_from_reduced_fares_to_monthly_free_trips_on_2025_02_01() -> None:
    def benefits(p: FarePolicy) -> dict[str, tuple[BenefitKind, int | None, int | None]]:
        return {
            n: (b.kind, b.trips_per_month, b.reduced_fare) for n, b in p.profile_benefits.items()
        }

    reduced, free = BenefitKind.REDUCED_FARE, BenefitKind.FREE_TRIPS
    before: dict[str, tuple[BenefitKind, int | None, int | None]] = {
        "elderly": (reduced, 30, 2500),
        "sisben": (reduced, 30, 2500),
    }
    before["child_under_2"] = (free, None, None)
    after: dict[str, tuple[BenefitKind, int | None, int | None]] = {
        "disability": (free, 12, None),
        "elderly": (free, 8, None),
    }
    after |= {"student_jovenes_e": (free, 40, None), "child_under_2": (free, None, None)}
    assert [benefits(p) for p in POLICIES] == [before] * 3 + [after] * 2
    assert "Sisbén" in POLICIES[3].note


def _valid() -> dict[str, object]:
    return dict(policy_to_dict(POLICIES[0]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_price", True, "'card_price' must be an integer"),
        ("max_balance", 418000.0, "'max_balance' must be an integer"),
        ("credit_trips", -1, "'credit_trips' must be >= 0"),
        ("transfer_window_seconds", 0, "'transfer_window_seconds' must be > 0"),
        ("effective_from", "2023-02-01T00:00:00", "'effective_from' must carry a UTC offset"),
        ("effective_from", "February", "'effective_from' must be an ISO 8601"),
        ("base_fares", {"trunk": 2950, "cable": 2950, "zonal": 2750}, "'base_fares' lacks feeder"),
        ("base_fares", {"metro": 1}, "'base_fares' must be one of trunk, cable, zonal, feeder"),
        ("transfer_costs", [{"from": "zonal", "to": "trunk", "amount": 2.5}], r"\[0\].amount"),
        ("profile_benefits", {"x": {"kind": "reduced_fare"}}, r"benefits.x.reduced_fare"),
        ("recharge_min", 500_000, "pos recharge minimum exceeds its maximum"),
        ("credit_trip", 3, r"unknown \['credit_trip'\]"),
    ],
)
def test_policy_from_dict_names_the_invalid_field(field: str, value: object, message: str) -> None:
    data = _valid() | {field: value}
    with pytest.raises(ValueError, match=message):
        policy_from_dict(data)


def test_two_policies_with_the_same_start_are_rejected() -> None:
    with pytest.raises(ValueError, match="two fare policies start at 2023-02-01"):
        policies_from_dicts([_valid(), _valid()])


def test_policy_in_force_is_chosen_by_event_time() -> None:
    assert policy_in_force(POLICIES, at("2026-01-13", "23:59:59")).full_fare(TRUNK) == 3200
    assert policy_in_force(POLICIES, at("2026-01-14", "00:00:00")).full_fare(TRUNK) == 3550
    assert (
        policy_in_force(POLICIES, datetime(2026, 1, 14, 4, 59, tzinfo=UTC)).full_fare(ZONAL) == 3200
    )
    with pytest.raises(ValueError, match="no fare policy is in force"):
        policy_in_force(POLICIES, at("2023-01-31", "23:59:59"))
    with pytest.raises(ValueError, match="timezone-aware"):
        policy_in_force(POLICIES, datetime(2026, 1, 14))


# --- full fares, transfers and the window ----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "kind", "fare"),
    [
        ("2023-06-01", TRUNK, 2950),
        ("2023-06-01", CABLE, 2950),
        ("2023-06-01", ZONAL, 2750),
        ("2024-06-01", ZONAL, 2950),
        ("2025-01-20", ZONAL, 3200),
        ("2026-03-01", TRUNK, 3550),
        ("2026-03-01", CABLE, 3550),
        ("2026-03-01", ZONAL, 3550),
        ("2026-03-01", FEEDER, 0),
    ],
)
def test_a_first_tap_pays_the_full_fare_of_its_era(day: str, kind: ServiceKind, fare: int) -> None:
    pricing = Rider(card(10_000)).pay(at(day), kind)
    assert (pricing.fare_charged, pricing.fare_kind, pricing.balance_after) == (
        fare,
        FareKind.FULL,
        10_000 - fare,
    )


def test_a_tap_at_the_fare_change_pays_the_fare_of_its_event_time() -> None:
    assert Rider(card()).pay(at("2026-01-13", "23:59:00"), TRUNK).fare_charged == 3200
    assert Rider(card()).pay(at("2026-01-14", "00:00:00"), TRUNK).fare_charged == 3550


def test_2023_zonal_to_trunk_transfer_costs_200_and_the_reverse_is_free() -> None:
    rider = Rider(card(10_000))
    rider.pay(at("2023-06-01", "08:00"), ZONAL, "Z1")
    to_trunk = rider.pay(at("2023-06-01", "08:30"), TRUNK, "B1")
    back_to_zonal = rider.pay(at("2023-06-01", "09:00"), ZONAL, "Z2")
    assert (to_trunk.fare_kind, to_trunk.fare_charged, to_trunk.transfers_in_window) == (
        FareKind.TRANSFER,
        200,
        1,
    )
    assert (back_to_zonal.fare_charged, back_to_zonal.transfers_in_window) == (0, 2)
    assert rider.card.balance == 10_000 - 2750 - 200


def test_2024_zonal_to_trunk_transfer_is_free() -> None:
    rider = Rider(card())
    rider.pay(at("2024-06-01"), ZONAL, "Z1")
    assert rider.pay(at("2024-06-01", "08:30"), TRUNK, "B1").fare_charged == 0


@pytest.mark.parametrize(("day", "minutes"), [("2024-06-01", 110), ("2025-06-01", 125)])
def test_the_window_includes_its_last_second_only(day: str, minutes: int) -> None:
    anchor = at(day)
    inside, outside = Rider(card()), Rider(card())
    for rider in (inside, outside):
        assert rider.pay(anchor, ZONAL, "Z1").transfer_window_left == timedelta(minutes=minutes)
    last = inside.pay(anchor + timedelta(minutes=minutes), TRUNK, "B1")
    late = outside.pay(anchor + timedelta(minutes=minutes, seconds=1), TRUNK, "B1")
    assert (last.is_transfer, last.transfer_window_left, last.window_anchor) == (
        True,
        timedelta(0),
        anchor,
    )
    assert (late.fare_kind, late.transfers_in_window, late.window_anchor) == (
        FareKind.FULL,
        0,
        anchor + timedelta(minutes=minutes, seconds=1),
    )
    assert late.fare_charged == policy_in_force(POLICIES, anchor).full_fare(TRUNK)


def test_the_third_transfer_is_a_new_full_fare() -> None:
    rider = Rider(card())
    rider.pay(at("2026-03-02", "07:00"), ZONAL, "Z1")
    first = rider.pay(at("2026-03-02", "07:20"), TRUNK, "B1", "02000")
    second = rider.pay(at("2026-03-02", "07:50"), ZONAL, "Z2")
    third = rider.pay(at("2026-03-02", "08:10"), ZONAL, "Z3")
    assert [(p.fare_charged, p.transfers_in_window) for p in (first, second)] == [(0, 1), (0, 2)]
    assert first.transfer_window_left == timedelta(minutes=105)
    assert second.transfer_window_left is None  # no transfer left in this window
    assert (third.fare_kind, third.fare_charged, third.transfers_in_window) == (
        FareKind.FULL,
        3550,
        0,
    )
    assert third.window_anchor == at("2026-03-02", "08:10")


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (("Z1", "S1"), ("Z1", "S2")),
        (("Z1", "S1"), ("Z2", "S1")),
        ((None, "09100"), ("B1", "09100")),
    ],
    ids=["same route", "same stop", "same station"],
)
def test_boarding_the_same_route_or_stop_again_is_a_full_fare(
    first: tuple[str | None, str], again: tuple[str | None, str]
) -> None:
    rider = Rider(card())
    rider.pay(at("2026-03-02"), ZONAL, *first)
    repeat = rider.pay(at("2026-03-02", "08:05"), ZONAL, *again)
    assert (repeat.is_transfer, repeat.fare_charged) == (False, 3550)


def test_a_basic_card_never_gets_a_transfer_or_a_window() -> None:
    rider = Rider(card(20_000, basic=True))
    taps = [
        rider.pay(at("2023-06-01", f"08:{m:02}"), k, r)
        for m, k, r in [(0, ZONAL, "Z1"), (10, TRUNK, "B1"), (20, ZONAL, "Z2")]
    ]
    assert [t.fare_charged for t in taps] == [2750, 2950, 2750]
    assert all(t.window_anchor is None and t.transfer_window_left is None for t in taps)


def test_a_free_feeder_ride_neither_opens_nor_uses_a_window() -> None:
    rider = Rider(card())
    feeder = rider.pay(at("2023-06-01", "06:00"), FEEDER, "F1")
    assert (feeder.fare_charged, feeder.window_anchor) == (0, None)
    assert rider.pay(at("2023-06-01", "06:20"), ZONAL, "Z1").fare_charged == 2750
    middle = rider.pay(at("2023-06-01", "06:40"), FEEDER, "F2")
    trunk = rider.pay(at("2023-06-01", "07:00"), TRUNK, "B1")
    assert (middle.is_transfer, middle.transfers_in_window) == (False, 0)
    assert (trunk.fare_kind, trunk.fare_charged) == (FareKind.TRANSFER, 200)  # from the zonal


# --- credit trips ----------------------------------------------------------------------------


def test_two_credit_trips_then_the_card_is_declined() -> None:
    rider = Rider(card(1000))
    first = rider.pay(at("2026-03-02", "06:00"), TRUNK)
    second = rider.pay(at("2026-03-02", "18:00"), TRUNK)
    third = rider.tap(at("2026-03-03", "06:00"), ZONAL)
    assert [(p.fare_kind, p.credit_used, p.balance_after) for p in (first, second)] == [
        (FareKind.CREDIT, True, -2550),
        (FareKind.CREDIT, True, -6100),
    ]
    assert third == TapDeclined(
        reason="insufficient balance: -6100 < 3550 and all 2 credit trips are in use", fare_due=3550
    )
    assert rider.card.balance >= -2 * 3550


def test_a_basic_card_is_declined_instead_of_riding_on_credit() -> None:
    declined = Rider(card(3549, basic=True)).tap(at("2026-03-02"), TRUNK)
    assert isinstance(declined, TapDeclined)
    assert declined.fare_due == 3550
    assert "basic cards have no credit" in declined.reason


def test_zero_cost_taps_ride_even_with_debt_and_no_credit_left() -> None:
    rider = Rider(card(-7100, credit=2))
    feeder = rider.pay(at("2026-03-02"), FEEDER)
    assert (feeder.fare_charged, feeder.credit_used, feeder.balance_after) == (0, False, -7100)
    rider.history.append(
        PriorTap(at("2026-03-02", "07:00"), TRUNK, "B1", None, FareKind.CREDIT, 3550)
    )
    free = rider.pay(at("2026-03-02", "07:30"), ZONAL, "Z1")
    assert (free.is_transfer, free.credit_used, free.balance_after) == (True, False, -7100)


def test_a_transfer_paid_on_credit_stays_a_transfer() -> None:
    rider = Rider(card(0))
    rider.pay(at("2023-06-01", "08:00"), ZONAL, "Z1")
    transfer = rider.pay(at("2023-06-01", "08:30"), TRUNK, "B1")
    assert (transfer.fare_kind, transfer.credit_used, transfer.balance_after) == (
        FareKind.TRANSFER,
        True,
        -2950,
    )
    assert rider.card.credit_trips_in_use == 2


# --- rider profiles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "used", "fare", "kind"),
    [
        ("elderly", 7, 0, FareKind.FREE_TRIP),
        ("elderly", 8, 3550, FareKind.FULL),
        ("disability", 11, 0, FareKind.FREE_TRIP),
        ("student_jovenes_e", 39, 0, FareKind.FREE_TRIP),
        ("student_jovenes_e", 40, 3550, FareKind.FULL),
        ("child_under_2", 10_000, 0, FareKind.FREE_TRIP),
        ("sisben", 0, 3550, FareKind.FULL),  # no longer a profile in 2026
    ],
)
def test_monthly_free_trips_by_profile(profile: str, used: int, fare: int, kind: FareKind) -> None:
    pricing = Rider(card(profile=profile, used=used)).pay(at("2026-03-02"), TRUNK)
    assert (pricing.fare_charged, pricing.fare_kind) == (fare, kind)
    assert pricing.benefit_trip_used is (kind is FareKind.FREE_TRIP)


@pytest.mark.parametrize(
    ("day", "profile", "used", "kind", "fare"),
    [
        ("2023-06-01", "elderly", 29, ZONAL, 2500),
        ("2023-06-01", "elderly", 30, ZONAL, 2750),
        ("2024-06-01", "sisben", 0, TRUNK, 2500),
        ("2025-01-20", "elderly", 0, TRUNK, 2500),
    ],
)
def test_reduced_fare_before_february_2025(
    day: str, profile: str, used: int, kind: ServiceKind, fare: int
) -> None:
    pricing = Rider(card(profile=profile, used=used)).pay(at(day), kind)
    assert pricing.fare_charged == fare
    assert pricing.benefit_trip_used is (fare == 2500)


def test_a_transfer_does_not_spend_a_benefit_trip() -> None:
    rider = Rider(card(profile="elderly", used=0))
    assert rider.pay(at("2026-03-02", "08:00"), ZONAL, "Z1").fare_kind is FareKind.FREE_TRIP
    transfer = rider.pay(at("2026-03-02", "08:20"), TRUNK, "B1")
    assert (transfer.is_transfer, transfer.benefit_trip_used) == (True, False)
    assert rider.card.benefit_trips_used_this_month == 1


def test_a_basic_card_gets_no_profile_benefit() -> None:
    assert (
        Rider(card(basic=True, profile="child_under_2")).pay(at("2026-03-02"), ZONAL).fare_charged
        == 3550
    )


def test_a_reduced_fare_on_credit_is_a_credit_trip_that_spends_a_benefit_trip() -> None:
    pricing = Rider(card(100, profile="elderly")).pay(at("2023-06-01"), ZONAL)
    assert (pricing.fare_kind, pricing.fare_charged, pricing.balance_after) == (
        FareKind.CREDIT,
        2500,
        -2400,
    )
    assert pricing.credit_used
    assert pricing.benefit_trip_used


# --- late and out-of-order taps --------------------------------------------------------------


def test_a_late_tap_is_priced_with_only_the_taps_before_it() -> None:
    rider = Rider(card())
    rider.pay(at("2026-03-02", "08:00"), ZONAL, "Z1")
    rider.pay(at("2026-03-02", "08:30"), TRUNK, "B1")
    rider.pay(at("2026-03-02", "08:50"), ZONAL, "Z2")  # the window's two transfers are used
    posted = list(rider.history)
    late = rider.pay(at("2026-03-02", "08:20"), ZONAL, "Z3")  # a validator that was offline
    assert (late.is_transfer, late.fare_charged, late.transfers_in_window) == (True, 0, 1)
    assert rider.history[:3] == posted  # history is never repriced
    earliest = rider.pay(at("2026-03-02", "07:00"), ZONAL, "Z4")
    assert (earliest.fare_kind, earliest.fare_charged) == (FareKind.FULL, 3550)


def test_history_order_does_not_change_the_price() -> None:
    rider = Rider(card())
    for minute, kind, route in [(0, ZONAL, "Z1"), (30, TRUNK, "B1")]:
        rider.pay(at("2026-03-02", f"08:{minute:02}"), kind, route)
    tap = TapRequest(at("2026-03-02", "08:45"), ZONAL, "Z2")
    policy = policy_in_force(POLICIES, tap.event_time)
    shuffled = list(reversed(rider.history))
    Random(7).shuffle(shuffled)
    assert price_tap(rider.card, shuffled, tap, policy) == price_tap(
        rider.card, rider.history, tap, policy
    )


def test_a_tap_needs_an_aware_time_inside_its_policy() -> None:
    policy = POLICIES[-1]
    with pytest.raises(ValueError, match=r"^tap event_time must be timezone-aware$"):
        price_tap(card(), [], TapRequest(datetime(2026, 3, 2), TRUNK), policy)
    with pytest.raises(ValueError, match=r"^the fare policy was not in force at the tap's event"):
        price_tap(card(), [], TapRequest(at("2025-03-02"), TRUNK), policy)


# --- recharges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "credit", "amount", "expected"),
    [
        (-7100, 2, 5000, (-2100, 5000, 2)),  # repays part of the debt, credit stays used
        (-7100, 2, 10_649, (3549, 7100, 2)),  # one peso short of a full fare
        (-7100, 2, 10_650, (3550, 7100, 0)),  # covers a full fare: credit is back
        (1000, 0, 5000, (6000, 0, 0)),
    ],
)
def test_a_recharge_repays_credit_first_and_restores_it_at_a_full_fare(
    balance: int, credit: int, amount: int, expected: tuple[int, int, int]
) -> None:
    plan = plan_recharge(balance, credit, amount, POLICIES[-1], POS)
    assert (plan.new_balance, plan.credit_repaid, plan.credit_trips_in_use_after) == expected


def test_credit_returns_at_the_highest_full_fare_of_the_policy() -> None:
    policy_2023 = POLICIES[0]  # zonal 2750, trunk 2950
    assert plan_recharge(-5500, 2, 8400, policy_2023, POS).credit_trips_in_use_after == 2
    assert plan_recharge(-5500, 2, 8450, policy_2023, POS).credit_trips_in_use_after == 0


@pytest.mark.parametrize(
    ("channel", "amount", "accepted"),
    [
        (POS, 49, False),
        (POS, 50, True),
        (POS, 418_000, True),
        (POS, 418_001, False),
        (WEB, 9_999, False),
        (WEB, 10_000, True),
        (WEB, 200_000, True),
        (WEB, 200_001, False),
    ],
)
def test_recharge_limits_per_channel(channel: RechargeChannel, amount: int, accepted: bool) -> None:
    if accepted:
        assert plan_recharge(0, 0, amount, POLICIES[-1], channel).new_balance == amount
    else:
        with pytest.raises(RechargeRejected, match=f"a {channel} recharge must be") as rejected:
            plan_recharge(0, 0, amount, POLICIES[-1], channel)
        assert rejected.value.field == "amount"


def test_a_recharge_may_not_lift_the_balance_above_the_maximum() -> None:
    assert plan_recharge(400_000, 0, 18_000, POLICIES[-1], POS).new_balance == 418_000
    with pytest.raises(RechargeRejected) as rejected:
        plan_recharge(400_000, 0, 18_001, POLICIES[-1], POS)
    # The message is what a client reads in the 422.
    assert (rejected.value.field, rejected.value.message) == (
        "amount",
        "the balance would be 418001, above the maximum 418000",
    )
