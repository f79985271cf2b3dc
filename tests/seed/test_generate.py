"""The pure generator: deterministic, priced by the engine, and shaped like Bogotá's riders."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from tests.seed.conftest import small
from tests.seed.replay import CITY, postings, replay_card
from travel_recharge.fares.policy import CardType
from travel_recharge.seed.generate import (
    CARD_COLUMNS,
    RECHARGE_COLUMNS,
    TRIP_COLUMNS,
    ChunkRows,
    generate_cards,
)
from travel_recharge.seed.options import SeedOptions
from travel_recharge.seed.world import World

PEAK_HOURS = {6, 7, 8, 16, 17, 18, 19}
MIDDAY_HOURS = {10, 11, 12, 13, 14}


@pytest.fixture(scope="module")
def generated(world: World) -> tuple[SeedOptions, ChunkRows]:
    options = small()
    return options, generate_cards(world, options, 1, options.cards)


def _trips(rows: ChunkRows) -> list[dict[str, object]]:
    return [dict(zip(TRIP_COLUMNS, t, strict=True)) for t in rows.trips]


def test_same_seed_gives_identical_rows_and_another_seed_does_not(
    world: World, generated: tuple[SeedOptions, ChunkRows]
) -> None:
    options, rows = generated
    again = generate_cards(world, options, 1, options.cards)
    assert again.checksum() == rows.checksum()
    assert again.trips == rows.trips
    other = generate_cards(world, small(seed=8), 1, options.cards)
    assert other.checksum() != rows.checksum()
    assert len(rows.trips) > 1000


def test_rows_do_not_depend_on_how_cards_are_split_among_workers(
    world: World, generated: tuple[SeedOptions, ChunkRows]
) -> None:
    options, rows = generated
    parts = [generate_cards(world, options, first, min(first + 49, options.cards))
             for first in range(1, options.cards + 1, 50)]  # fmt: skip
    assert [t for part in parts for t in part.trips] == rows.trips
    assert [c for part in parts for c in part.cards] == rows.cards
    assert [u for part in parts for u in part.users] == rows.users


def test_every_tap_and_top_up_is_what_the_fare_engine_says(
    world: World, generated: tuple[SeedOptions, ChunkRows]
) -> None:
    _, rows = generated
    by_card = postings(
        [(c, k, a, b, r, t) for c, k, a, b, r, t, _ in rows.ledger],
        dict(enumerate(_trips(rows))),
        {i: dict(zip(RECHARGE_COLUMNS, r, strict=True)) for i, r in enumerate(rows.recharges)},
    )
    policies = [(row.id, row.policy) for row in world.policies]
    cards = [dict(zip(CARD_COLUMNS, c, strict=True)) for c in rows.cards]
    checked = sum(replay_card(card, by_card.get(card["id"], []), policies) for card in cards)
    assert checked == len(rows.trips)


def test_users_own_the_personalized_cards_with_unique_documents(
    generated: tuple[SeedOptions, ChunkRows],
) -> None:
    options, rows = generated
    cards = [dict(zip(CARD_COLUMNS, c, strict=True)) for c in rows.cards]
    personalized = [c for c in cards if c["card_type"] == CardType.PERSONALIZED]
    assert len(rows.users) == options.users == len(personalized)
    assert sorted(c["user_id"] for c in personalized) == list(range(1, options.users + 1))
    assert all(
        c["user_id"] is None and c["profile"] is None for c in cards if c["card_type"] == "basic"
    )
    assert len({u[2] for u in rows.users}) == options.users  # document ids
    assert 0.25 < 1 - len(personalized) / len(cards) < 0.45  # a good share of basic cards
    profiles = Counter(c["profile"] for c in personalized)
    assert {"elderly", "student_jovenes_e"} <= set(profiles)
    registered = [u[4] for u in rows.users]
    assert all(isinstance(r, datetime) and r < rows.trips[0][6] for r in registered)


def test_peaks_weekdays_transfers_credit_and_free_trips(
    generated: tuple[SeedOptions, ChunkRows],
) -> None:
    _, rows = generated
    trips = _trips(rows)
    local = [t["event_time"].astimezone(CITY) for t in trips]
    hours = Counter(at.hour for at in local)
    peak = sum(hours[h] for h in PEAK_HOURS) / len(PEAK_HOURS)
    midday = sum(hours[h] for h in MIDDAY_HOURS) / len(MIDDAY_HOURS)
    assert peak > 2.5 * midday
    days = Counter(at.date() for at in local)
    weekday = [n for d, n in days.items() if d.weekday() < 5]
    weekend = [n for d, n in days.items() if d.weekday() >= 5]
    assert min(weekday) > 1.5 * max(weekend)
    kinds = Counter(t["fare_kind"] for t in trips)
    assert kinds["transfer"] > 0.1 * len(trips)
    assert kinds["credit"] > 0
    assert kinds["free_trip"] > 0  # profiles' monthly trips (policies from 2025-02)
    services = Counter(t["service_kind"] for t in trips)
    assert set(services) == {"trunk", "zonal", "feeder", "cable"}
    # Transfers of both kinds the brief asks for: zonal then trunk, and trunk then trunk.
    previous: dict[object, dict[str, object]] = {}
    pairs = Counter()
    for t in trips:
        before = previous.get(t["card_id"])
        if t["is_transfer"] and before is not None:
            pairs[(before["service_kind"], t["service_kind"])] += 1
        previous[t["card_id"]] = t
    assert pairs[("zonal", "trunk")] > 0
    assert pairs[("trunk", "trunk")] > 0
    # Station boardings name a station, bus boardings a route; most trunk exits are known.
    assert all(
        (t["station_id"] is None) == (t["service_kind"] in ("zonal", "feeder")) for t in trips
    )
    assert all((t["route_id"] is None) != (t["station_id"] is None) for t in trips)
    trunk = [t for t in trips if t["service_kind"] == "trunk"]
    assert sum(t["end_station_id"] is not None for t in trunk) > 0.8 * len(trunk)
    assert all(t["received_at"] > t["event_time"] for t in trips)


def test_recharges_happen_at_points_within_the_policy_limits(
    world: World, generated: tuple[SeedOptions, ChunkRows]
) -> None:
    _, rows = generated
    recharges = [dict(zip(RECHARGE_COLUMNS, r, strict=True)) for r in rows.recharges]
    assert recharges
    assert {r["channel"] for r in recharges} == {"counter", "kiosk"}
    for r in recharges:
        policy = world.policy_at(r["created_at"]).policy
        assert policy.recharge_min <= r["amount"] <= policy.recharge_max
        assert world.points[r["recharge_point_id"]].channel == r["channel"]
    assert Counter(r["amount"] for r in recharges).most_common(1)[0][0] in (10_000, 20_000)


def test_the_replay_catches_a_wrong_fare(
    world: World, generated: tuple[SeedOptions, ChunkRows]
) -> None:
    _, rows = generated
    trips = _trips(rows)
    paid = next(i for i, t in enumerate(trips) if t["fare_charged"])
    trips[paid] = {**trips[paid], "fare_charged": trips[paid]["fare_charged"] - 1}
    by_card = postings(
        [(c, k, a, b, r, t) for c, k, a, b, r, t, _ in rows.ledger],
        dict(enumerate(trips)),
        {i: dict(zip(RECHARGE_COLUMNS, r, strict=True)) for i, r in enumerate(rows.recharges)},
    )
    card = next(
        dict(zip(CARD_COLUMNS, c, strict=True))
        for c in rows.cards
        if c[0] == trips[paid]["card_id"]
    )
    policies = [(row.id, row.policy) for row in world.policies]
    with pytest.raises(AssertionError):
        replay_card(card, by_card[card["id"]], policies)
