"""Trip chaining on hand-made card days whose destinations are known.

The network is laid on a grid of metres: trunk stations along an avenue, a portal to the
north, bus routes past them, a cable line to the south, and one stop far from everything.
"""

from __future__ import annotations

import math

import pytest

from travel_recharge.analytics.flows.chaining import Boarding, Chained, Network, chain_day
from travel_recharge.analytics.flows.tally import DayCounts, Places

T1, T2, T3, PORTAL = 1, 2, 3, 4
Z1, Z2, Z3, Z4 = 11, 12, 13, 14
C1, C2, C3 = 21, 22, 23
R1, R2, CABLE = 101, 102, 103

# stop -> (metres east, metres north) of a point in the city
GRID = {
    T1: (0, 0),
    T2: (5_000, 0),
    T3: (10_000, 0),
    PORTAL: (0, 8_000),
    Z1: (5_200, 400),  # 447 m from T2
    Z2: (6_000, 2_000),  # 2,236 m from T2, the nearest trunk station
    Z3: (9_000, 9_000),
    Z4: (300, 200),  # 361 m from T1
    C1: (0, -3_000),
    C2: (0, -1_500),
    C3: (0, -100),  # 100 m from T1
}
ROUTES = {R1: [Z4, Z1, Z2], R2: [Z2, Z3], CABLE: [C1, C2, C3]}
LOCALITY = {T1: "01", T2: "02", T3: "03", PORTAL: "04", Z1: "02", Z2: "02", Z3: "05", Z4: "01"}
LOCALITY |= {C1: "06", C2: "06", C3: "01"}
KIND = {T1: "trunk", T2: "trunk", T3: "trunk", PORTAL: "portal", C1: "cable", C2: "cable"}
KIND |= {C3: "cable", Z1: "zonal", Z2: "zonal", Z3: "zonal", Z4: "zonal"}


def point(east: float, north: float) -> tuple[float, float]:
    latitude = 4.6 + north / 111_195
    return latitude, -74.08 + east / (111_195 * math.cos(math.radians(4.6)))


def network(max_walk_m: float = 1_000) -> Network:
    return Network(
        points={stop: point(*xy) for stop, xy in GRID.items()},
        route_stops=ROUTES,
        trunk_stations=[T1, T2, T3, PORTAL],
        cable_routes=[CABLE],
        max_walk_m=max_walk_m,
    )


def trunk(
    station: int, hour: int = 7, exit_at: int | None = None, transfer: bool = False
) -> Boarding:
    return Boarding(hour, "trunk", station, None, exit_at, transfer)


def bus(route: int, hour: int = 7, transfer: bool = False) -> Boarding:
    return Boarding(hour, "zonal", None, route, None, transfer)


def cable(station: int, hour: int = 7) -> Boarding:
    return Boarding(hour, "cable", station, None, None, False)


def ends(chained: list[Chained]) -> list[tuple[int | None, int | None, str]]:
    return [(trip.origin, trip.destination, trip.how) for trip in chained]


def test_a_trunk_commute_ends_where_the_next_trip_boards_and_the_last_at_the_first() -> None:
    day = [trunk(T1, 7), trunk(T2, 17)]
    assert ends(chain_day(network(), day)) == [(T1, T2, "inferred"), (T2, T1, "inferred")]


def test_a_single_trip_has_no_destination_unless_the_rider_tapped_out() -> None:
    assert ends(chain_day(network(), [trunk(T1)])) == [(T1, None, "unknown")]
    assert ends(chain_day(network(), [trunk(T1, exit_at=T3)])) == [(T1, T3, "observed")]


def test_a_bus_trip_ends_at_its_stop_nearest_the_next_boarding_and_boards_near_the_last_end() -> (
    None
):
    # Home by bus R1 to the trunk at T2; back by trunk, which ends at the trunk station
    # nearest R1 (T1, 361 m from Z4), where the morning's bus is taken: its origin is Z4.
    chained = chain_day(network(), [bus(R1, 6), trunk(T2, 7, transfer=True)])
    assert ends(chained) == [(Z4, Z1, "inferred"), (T2, T1, "inferred")]
    assert chained[0].walk_m == pytest.approx(447, abs=1)
    assert chained[1].walk_m == pytest.approx(361, abs=1)


def test_an_inference_past_the_walk_limit_is_refused() -> None:
    # From T1 the rider next boards route R2, whose nearest stop to any trunk station is
    # 2,236 m away; R2's stops are 6 km and more from T1, the day's first boarding.
    assert ends(chain_day(network(), [trunk(T1, 7), bus(R2, 9)])) == [
        (T1, None, "unknown"),
        (None, None, "unknown"),
    ]
    # With a longer walk allowed, the same day chains.
    assert ends(chain_day(network(2_500), [trunk(T1, 7), bus(R2, 9)])) == [
        (T1, T2, "inferred"),
        (Z2, None, "unknown"),  # R2's nearest stop to T1 is still 6.3 km away
    ]


def test_an_exit_tap_is_the_destination_and_places_the_next_bus_boarding() -> None:
    chained = chain_day(network(), [trunk(T1, 7, exit_at=T2), bus(R1, 8, transfer=True)])
    assert ends(chained) == [(T1, T2, "observed"), (Z1, Z4, "inferred")]


def test_a_destination_at_the_trip_s_own_origin_is_refused() -> None:
    # Boarding at T1 twice: the first trip's nearest alighting to T1 is T1 itself.
    assert ends(chain_day(network(), [trunk(T1, 7), trunk(T1, 9)])) == [
        (T1, None, "unknown"),
        (T1, None, "unknown"),
    ]


def test_a_cable_ride_ends_at_a_station_of_its_line() -> None:
    assert ends(chain_day(network(), [cable(C1, 6), trunk(T1, 7, transfer=True)])) == [
        (C1, C3, "inferred"),  # 100 m from T1
        (T1, None, "unknown"),  # C1, the day's first boarding, is 3 km from any trunk station
    ]


PLACES = Places(
    station_kind=KIND,
    station_locality=LOCALITY,
    route_code={R1: "Z-1", R2: "Z-2", CABLE: "TMC"},
    route_locality={R1: "01", R2: "02", CABLE: "06"},
)


def count_day(places: Places, days: list[list[Boarding]]) -> DayCounts:
    """The counts of card days as the job makes them (chained, then added card by card)."""
    counts = DayCounts()
    for day in days:
        counts.add_card_day(places, chain_day(network(), day))
    return counts


def test_the_counts_by_band_locality_station_and_transfer() -> None:
    days = [
        [bus(R1, 6), trunk(T2, 7, transfer=True)],  # Z4 -> Z1, T2 -> T1
        [trunk(T1, 7, exit_at=T2), trunk(T2, 17)],  # observed T1 -> T2, T2 -> T1
        [trunk(T1, 22)],  # unknown
    ]
    counts = count_day(PLACES, days)
    assert counts.trips == 5
    assert dict(counts.localities) == {
        ("am_peak", "01", "02", "inferred"): 1,  # Z4 -> Z1
        ("am_peak", "02", "01", "inferred"): 1,  # T2 -> T1
        ("am_peak", "01", "02", "observed"): 1,
        ("pm_peak", "02", "01", "inferred"): 1,
        ("night", "01", "", "unknown"): 1,
    }
    # Zonal stops are left out of the station matrix.
    assert dict(counts.stations) == {
        ("am_peak", T2, T1, "inferred"): 1,
        ("am_peak", T1, T2, "observed"): 1,
        ("pm_peak", T2, T1, "inferred"): 1,
    }
    assert dict(counts.transfer_lines) == {("am_peak", "zonal", "Z-1", "trunk", "trunk"): 1}
    assert dict(counts.transfer_places) == {("am_peak", T2): 1}


def test_rides_on_the_same_bus_route_place_neither_stop() -> None:
    # There and back on R1: every stop of R1 is nearest itself, so the chain knows nothing.
    assert ends(chain_day(network(), [bus(R1, 7), bus(R1, 17)])) == [
        (None, None, "unknown"),
        (None, None, "unknown"),
    ]
    # To work: R1, then the trunk from T2 to T3; home: the trunk from T3, then R1. The
    # morning's bus ends near T2 (its origin unknown: the evening's ride on R1 cannot place
    # it). The evening's trunk ride ends where the trunk comes nearest R1 (T1, 361 m from
    # Z4; the rider may have left at T2, 447 m from Z1: the closest pair is the guess), and
    # the evening's bus boards at Z4 with its destination unknown.
    day = [bus(R1, 6), trunk(T2, 7, transfer=True), trunk(T3, 17), bus(R1, 18, transfer=True)]
    assert ends(chain_day(network(), day)) == [
        (None, Z1, "inferred"),
        (T2, T3, "inferred"),
        (T3, T1, "inferred"),
        (Z4, None, "unknown"),
    ]


def test_the_rows_stored_add_the_whole_day_to_each_band() -> None:
    days = [
        [bus(R1, 6), trunk(T2, 7, transfer=True)],
        [trunk(T1, 7, exit_at=T2), trunk(T2, 17)],
        [trunk(T2, 18)],  # unknown: in no station pair
    ]
    counts = count_day(PLACES, days)
    assert sorted(counts.station_rows()) == [
        ("all", T1, T2, 1, 0),
        ("all", T2, T1, 0, 2),
        ("am_peak", T1, T2, 1, 0),
        ("am_peak", T2, T1, 0, 1),
        ("pm_peak", T2, T1, 0, 1),
    ]
    assert sorted(counts.line_rows()) == [
        ("all", "zonal", "Z-1", "trunk", "trunk", 1),
        ("am_peak", "zonal", "Z-1", "trunk", "trunk", 1),
    ]
    assert sorted(counts.place_rows()) == [("all", T2, 1), ("am_peak", T2, 1)]
    assert counts.kind_rows() == [("am_peak", "zonal", "trunk", 1)]
