"""The simulated riders' choices, with fixed seeds: skew, weights, amounts, behaviour."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from travel_recharge.security.rate_limit import DEFAULT_LIMITS, Rate
from travel_recharge.simulator.choices import (
    FareFacts,
    Recharge,
    Riders,
    Tap,
    WeightedPicker,
    World,
    busiest_card_share,
    recharge_amount,
    station_weight,
    zipf_weights,
)
from travel_recharge.simulator.devices import plan_devices
from travel_recharge.simulator.repository import BoardingStation, BusRoute, SampledCard

FACTS = FareFacts(
    transfer_window_s=7500,
    double_tap_window_s=60,
    recharge_min=50,
    recharge_max=418_000,
    max_balance=418_000,
)
PORTAL = BoardingStation(1, "02000", "portal", routes=10)
TRUNK = BoardingStation(2, "01014", "trunk", routes=1)
ZONAL = BusRoute("18-3", "zonal", (3, 4, 5, 6))
FEEDER = BusRoute("16-1", "feeder", (1, 3))


def world(cards: int, seed: int = 1, balance: int = 20_000) -> World:
    return World.build(
        random.Random(seed),
        [SampledCard(card_id, balance) for card_id in range(1, cards + 1)],
        [PORTAL, TRUNK],
        [ZONAL, FEEDER],
        [7, 8],
    )


def test_zipf_weights_fall_with_rank() -> None:
    weights = zipf_weights(1000)
    assert weights == sorted(weights, reverse=True)
    assert weights[0] == pytest.approx(1 / 11)
    # The offset flattens the head: the first card is ~10x the 100th, not 100x.
    assert weights[0] / weights[99] == pytest.approx(110 / 11)


def test_a_few_regular_riders_tap_most() -> None:
    picker = world(1000, seed=7).cards
    rng = random.Random(11)
    drawn = Counter(picker.pick(rng) for _ in range(50_000))
    ranked = [count for _, count in drawn.most_common()]
    top_tenth = sum(ranked[:100]) / 50_000
    # Expected share of the top 100 of 1,000 ranks: ln(110.5/10.5) / ln(1010.5/10.5) = 0.515.
    assert 0.47 < top_tenth < 0.56
    assert ranked[0] > 10 * ranked[len(ranked) // 2]
    assert len(drawn) > 900  # the long tail rides too


def test_which_cards_are_the_regulars_depends_on_the_seed() -> None:
    firsts = {world(1000, seed=seed).cards.items[0] for seed in range(5)}
    assert len(firsts) > 1


def test_portals_and_stations_with_more_routes_are_busier() -> None:
    assert station_weight(PORTAL) == 33.0  # (1 + 10 routes) x 3 for a portal
    assert station_weight(TRUNK) == 2.0
    picker = WeightedPicker([PORTAL, TRUNK], [station_weight(PORTAL), station_weight(TRUNK)])
    rng = random.Random(3)
    drawn = Counter(picker.pick(rng).code for _ in range(35_000))
    assert drawn["02000"] / drawn["01014"] == pytest.approx(16.5, rel=0.1)


def test_a_picker_refuses_empty_or_weightless_items() -> None:
    with pytest.raises(ValueError, match="positive weights"):
        WeightedPicker([], [])
    with pytest.raises(ValueError, match="positive weights"):
        WeightedPicker([1, 2], [1.0, 0.0])


def test_recharge_amounts_are_typical_of_bogota() -> None:
    rng = random.Random(5)
    amounts = [recharge_amount(rng, 418_000, FACTS) for _ in range(10_000)]
    assert all(a is not None and a % 1_000 == 0 for a in amounts)
    usual = sum(1 for a in amounts if a is not None and 10_000 <= a <= 50_000)
    assert usual / len(amounts) > 0.75
    assert {2_000, 5_000, 100_000} <= set(amounts)  # and now and then something else


def test_recharge_amounts_respect_the_room_and_the_policy() -> None:
    rng = random.Random(5)
    assert {recharge_amount(rng, 15_000, FACTS) for _ in range(500)} <= {2_000, 5_000, 10_000}
    assert recharge_amount(rng, 1_999, FACTS) is None
    strict = FareFacts(7500, 60, recharge_min=10_000, recharge_max=30_000, max_balance=418_000)
    assert {recharge_amount(rng, 418_000, strict) for _ in range(500)} == {10_000, 20_000, 30_000}


def test_a_world_without_riders_or_points_is_refused() -> None:
    with pytest.raises(ValueError, match="no active cards, active points of sale"):
        World.build(random.Random(1), [], [PORTAL], [], [])
    with pytest.raises(ValueError, match="no active stations or bus routes"):
        World.build(random.Random(1), [SampledCard(1, 0)], [], [BusRoute("X", "zonal", ())], [1])


def test_about_one_event_in_ten_is_a_recharge() -> None:
    riders = Riders(world(500), FACTS, random.Random(2), recharge_share=0.1)
    events = [riders.next_event(now=i * 0.05) for i in range(5_000)]
    recharges = [e for e in events if isinstance(e, Recharge)]
    assert 0.08 < len(recharges) / len(events) < 0.12
    assert {r.recharge_point_id for r in recharges} == {7, 8}


def test_a_rider_refused_for_no_balance_recharges_next_and_does_not_tap_meanwhile() -> None:
    riders = Riders(world(20), FACTS, random.Random(4), recharge_share=0.0)
    broke = riders.world.cards.items[0]  # the most frequent rider
    riders.refused(broke)
    taps = [riders.next_event(now=i * 0.05) for i in range(300)]
    assert broke not in {t.card_id for t in taps}
    riders.recharge_share = 1.0
    recharge = riders.next_event(now=20.0)
    assert isinstance(recharge, Recharge)
    assert recharge.card_id == broke
    riders.recharged(broke, 20_000)
    assert riders.waiting_recharge == 0


def test_a_full_card_is_not_recharged() -> None:
    riders = Riders(world(1, balance=417_000), FACTS, random.Random(4), recharge_share=1.0)
    assert isinstance(riders.next_event(now=0.0), Tap)


def test_a_returning_rider_boards_somewhere_else() -> None:
    # Every tap after the first is the rider of the tap before, boarding again.
    riders = Riders(world(300), FACTS, random.Random(9), recharge_share=0.0, return_share=1.0)
    taps = [riders.next_event(now=i * 30.0) for i in range(2_000)]
    assert all(isinstance(t, Tap) for t in taps)
    assert len({t.card_id for t in taps}) == 1
    for before, after in itertools.pairwise(taps):
        # A station after a bus, a bus after a station, or another bus route.
        assert before.route_code is not None or after.route_code is not None
        assert before.route_code != after.route_code


def test_a_rider_boards_again_only_within_the_transfer_window() -> None:
    riders = Riders(world(300), FACTS, random.Random(9), recharge_share=0.0, return_share=1.0)
    # Taps further apart than the window: each is a fresh rider (the regulars repeat, though).
    taps = [riders.next_event(now=i * (FACTS.transfer_window_s + 1)) for i in range(200)]
    assert len({t.card_id for t in taps}) > 50


def test_bus_taps_name_a_route_and_one_of_its_stops() -> None:
    riders = Riders(world(50), FACTS, random.Random(6), recharge_share=0.0)
    taps = [riders.next_event(now=i * 1.0) for i in range(2_000)]
    bus = [t for t in taps if isinstance(t, Tap) and t.route_code is not None]
    assert 0.3 < len(bus) / len(taps) < 0.6
    for tap in bus:
        stops = ZONAL.stops if tap.route_code == "18-3" else FEEDER.stops
        assert tap.station_id in stops
        assert tap.validator_id.startswith(f"SIM-{tap.route_code}-")
    gates = [t for t in taps if isinstance(t, Tap) and t.route_code is None]
    assert {t.validator_id.rsplit("-", 1)[0] for t in gates} == {"SIM-02000", "SIM-01014"}


def test_no_validator_reads_a_card_twice_within_the_double_tap_window() -> None:
    # Twenty riders, two stations and two routes, the busiest rider tapping every ~4 s:
    # without care, repeats would be common.
    riders = Riders(world(20), FACTS, random.Random(8), recharge_share=0.0)
    seen: dict[tuple[int, str], float] = {}
    for i in range(3_000):
        now = i * 0.5
        tap = riders.next_event(now)
        assert isinstance(tap, Tap)
        key = (tap.card_id, tap.validator_id)
        assert now - seen.get(key, -1e9) >= FACTS.double_tap_window_s, key
        seen[key] = now


def test_with_the_runs_devices_every_tap_names_one_and_none_reads_a_card_twice() -> None:
    """A run's validator accounts are each bound to one validator: the riders meet those."""
    pool = [f"SIM-run-V{n:04d}" for n in range(1, 33)]
    riders = Riders(world(20), FACTS, random.Random(8), recharge_share=0.0, validators=pool)
    seen: dict[tuple[int, str], float] = {}
    for i in range(3_000):
        now = i * 0.5
        tap = riders.next_event(now)
        assert isinstance(tap, Tap)
        assert tap.validator_id in pool
        key = (tap.card_id, tap.validator_id)
        assert now - seen.get(key, -1e9) >= FACTS.double_tap_window_s, key
        seen[key] = now
    assert {validator for _, validator in seen} == set(pool)


def test_a_rider_read_by_almost_every_validator_lately_meets_the_one_left() -> None:
    """One rider tapping every 2 s among 32 validators: 30 of them read it within a minute,
    so random draws mostly hit one of those; the rider is read by one that has not."""
    pool = [f"SIM-V{n}" for n in range(1, 33)]
    riders = Riders(world(1), FACTS, random.Random(3), recharge_share=0.0, validators=pool)
    seen: dict[str, float] = {}
    for i in range(600):
        now = i * 2.0
        tap = riders.next_event(now)
        assert isinstance(tap, Tap)
        assert now - seen.get(tap.validator_id, -1e9) >= FACTS.double_tap_window_s, i
        seen[tap.validator_id] = now


def test_the_busiest_of_the_simulators_riders_makes_about_two_percent_of_the_taps() -> None:
    assert busiest_card_share(500) == pytest.approx(0.0234, abs=1e-4)
    assert busiest_card_share(40) == pytest.approx(0.0579, abs=1e-4)
    assert busiest_card_share(1) == 1.0
    # What the riders model does: over many taps, the busiest card's share is that.
    riders = Riders(world(40), FACTS, random.Random(5), recharge_share=0.0, return_share=0.0)
    counts = Counter(riders.next_event(i * 100.0).card_id for i in range(40_000))
    assert counts.most_common(1)[0][1] / 40_000 == pytest.approx(0.0579, abs=0.005)


def test_a_run_has_a_fresh_validator_for_each_tap_of_its_busiest_rider() -> None:
    limits = (_rate("taps", "principal"), _rate("recharges", "principal"), _rate("recharges", "ip"))
    # 500 riders at 100 events/s: the busiest taps ~140 times a minute, 1.25 times that many
    # validators (the per-account limit alone would want 20).
    busiest = 100 * FACTS.double_tap_window_s * busiest_card_share(500)
    assert plan_devices(100, *limits, busiest).validators == 176
    assert plan_devices(100, *limits).validators == 32
    # Never past the cap on the simulator's accounts.
    assert plan_devices(500, *limits, 5_000.0).validators == 1_000


def _rate(group: str, subject: str) -> Rate:
    return Rate.parse(DEFAULT_LIMITS[group][subject])  # type: ignore[index]


def test_devices_stay_under_half_their_limits_at_the_top_rate() -> None:
    plan = plan_devices(
        500, _rate("taps", "principal"), _rate("recharges", "principal"), _rate("recharges", "ip")
    )
    # 600 taps a minute each: 5/s at half, so 100 validators carry 500 taps/s.
    assert plan.validators == 100
    # One address may recharge 3,000 times a minute: half of it is 25/s, 5% of 500 events.
    assert plan.recharge_share == pytest.approx(0.05)
    assert plan.recharge_points == 10  # 25 recharges/s at 2.5/s each


def test_small_runs_still_use_a_few_devices() -> None:
    limits = (_rate("taps", "principal"), _rate("recharges", "principal"), _rate("recharges", "ip"))
    assert plan_devices(20, *limits) == plan_devices(20, *limits)
    small = plan_devices(20, *limits)
    assert (small.validators, small.recharge_points, small.recharge_share) == (32, 1, 0.1)
    tiny = plan_devices(0.1, None, None, None)
    assert (tiny.validators, tiny.recharge_points, tiny.recharge_share) == (32, 1, 0.1)


def test_tiny_limits_do_not_make_a_run_make_thousands_of_accounts() -> None:
    plan = plan_devices(500, Rate.parse("1/hour"), Rate.parse("1/hour"), None)
    assert (plan.validators, plan.recharge_points) == (1_000, 250)
