"""The shipped Bogotá reference network and the deterministic zonal synthesis."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, time

import pytest

from travel_recharge.network.reference import (
    BAND_NAMES,
    ROUTE_KINDS,
    ZONAL_CODE_START,
    ReferenceNetwork,
    _StopIndex,
    band_for,
    build_reference_network,
    in_bogota,
    load_localities,
    load_trunk_network,
    synthesize_zonal,
)

LOCALITY_NAMES = [
    "Usaquén", "Chapinero", "Santa Fe", "San Cristóbal", "Usme", "Tunjuelito", "Bosa",
    "Kennedy", "Fontibón", "Engativá", "Suba", "Barrios Unidos", "Teusaquillo", "Los Mártires",
    "Antonio Nariño", "Puente Aranda", "La Candelaria", "Rafael Uribe Uribe", "Ciudad Bolívar",
    "Sumapaz",
]  # fmt: skip
PORTALS = {
    "Portal Norte", "Portal Suba", "Portal 80", "Portal Américas", "Portal Sur", "Portal Usme",
    "Portal Tunal", "Portal 20 de Julio", "Portal El Dorado",
}  # fmt: skip
CORRIDOR_PREFIX = dict(zip("ABCDEFGHJKLM", [f"{n:02d}" for n in range(1, 13)], strict=True))


@pytest.fixture(scope="module")
def trunk() -> ReferenceNetwork:
    return load_trunk_network()


@pytest.fixture(scope="module")
def network() -> ReferenceNetwork:
    return build_reference_network(random_seed=0)


def test_twenty_localities_with_codes_and_exact_names() -> None:
    localities = load_localities()
    assert [loc.code for loc in localities] == [f"{i:02d}" for i in range(1, 21)]
    assert [loc.name for loc in localities] == LOCALITY_NAMES
    # Sumapaz is rural and lies south of the urban box; every other point is inside it.
    assert all(in_bogota(loc.latitude, loc.longitude) for loc in localities[:19])
    assert localities[19].latitude < 4.45


def test_every_corridor_and_all_nine_portals(trunk: ReferenceNetwork) -> None:
    corridors = {s.corridor for s in trunk.stations if s.kind in ("portal", "trunk")}
    assert corridors == set("ABCDEFGHJKLM")
    portals = [s for s in trunk.stations if s.kind == "portal"]
    assert {s.name for s in portals} == PORTALS
    assert len(portals) == 9


def test_station_counts(trunk: ReferenceNetwork) -> None:
    kinds = Counter(s.kind for s in trunk.stations)
    assert 120 <= kinds["portal"] + kinds["trunk"] <= 170
    assert kinds["cable"] == 4
    assert set(kinds) == {"portal", "trunk", "cable"}
    cable = [s.name for s in trunk.stations if s.kind == "cable"]
    assert cable[1:] == ["Juan Pablo II", "Manitas", "Mirador del Paraíso"]
    assert cable[0].startswith("Portal Tunal")


def test_codes_are_unique_five_digits_and_follow_the_corridor_scheme(
    trunk: ReferenceNetwork,
) -> None:
    codes = [s.code for s in trunk.stations]
    assert len(codes) == len(set(codes))
    assert all(len(c) == 5 and c.isdigit() for c in codes)
    assert trunk.stations_by_code()["02000"].name == "Portal Norte"
    for station in trunk.stations:
        expected = "13" if station.kind == "cable" else CORRIDOR_PREFIX[station.corridor or ""]
        assert station.code[:2] == expected, station
        assert (station.corridor is None) == (station.kind == "cable")
    # Portals sit at sequence 000 (or 100 for a branch such as Portal Tunal).
    assert all(s.code[2:] in ("000", "100") for s in trunk.stations if s.kind == "portal")


def test_coordinates_and_localities_are_valid(network: ReferenceNetwork) -> None:
    locality_codes = {loc.code for loc in network.localities}
    for station in network.stations:
        assert in_bogota(station.latitude, station.longitude), station
        assert station.locality_code in locality_codes, station


def test_known_station_positions(trunk: ReferenceNetwork) -> None:
    by_name = {s.name: s for s in trunk.stations}
    # North of the city is north: Portal Norte above Héroes above Tercer Milenio above Usme.
    lats = [
        by_name[n].latitude for n in ("Portal Norte", "Héroes", "Tercer Milenio", "Portal Usme")
    ]
    assert lats == sorted(lats, reverse=True)
    assert by_name["Portal Américas"].longitude < by_name["Ricaurte"].longitude
    assert by_name["Museo Nacional"].corridor == "M"


def test_routes_reference_stations_in_order(network: ReferenceNetwork) -> None:
    stations = network.stations_by_code()
    codes = [r.code for r in network.routes]
    assert len(codes) == len(set(codes))
    for route in network.routes:
        assert route.kind in ROUTE_KINDS
        assert route.stops[0].minutes_from_start == 0
        assert [s.sequence for s in route.stops] == list(range(1, len(route.stops) + 1))
        minutes = [s.minutes_from_start for s in route.stops]
        assert minutes == sorted(minutes), route.code
        assert all(s.station_code in stations for s in route.stops), route.code
        assert route.headways, route.code
        assert set(route.headways) <= set(BAND_NAMES)
        assert all(v > 0 for v in route.headways.values())


def test_trunk_routes(trunk: ReferenceNetwork) -> None:
    kinds = Counter(r.kind for r in trunk.routes)
    assert kinds["cable"] == 1
    assert 25 <= kinds["trunk"] <= 60
    served = {stop.station_code for r in trunk.routes for stop in r.stops}
    assert served == {s.code for s in trunk.stations}
    stations = trunk.stations_by_code()
    cable = next(r for r in trunk.routes if r.kind == "cable")
    names = [stations[s.station_code].name for s in cable.stops]
    assert names[1:] == ["Juan Pablo II", "Manitas", "Mirador del Paraíso"]
    # 3.3 km of cable: a ride of roughly a quarter of an hour.
    assert 10 <= cable.stops[-1].minutes_from_start <= 18
    # Trunk stops never repeat within a route, and peak service is at least as frequent.
    for route in trunk.routes:
        assert len({s.station_code for s in route.stops}) == len(route.stops)
        if "midday" in route.headways:
            assert route.headways["peak_am"] <= route.headways["midday"]
    b74 = next(r for r in trunk.routes if r.code == "B74")
    assert stations[b74.stops[-1].station_code].name == "Portal Norte"
    assert 25 <= b74.stops[-1].minutes_from_start <= 60


def test_zonal_synthesis_counts_and_codes(trunk: ReferenceNetwork) -> None:
    zonal = synthesize_zonal(random_seed=0)
    assert len(zonal.stations) == 7500
    assert len(zonal.routes) == 600
    assert {s.kind for s in zonal.stations} == {"zonal"}
    codes = {s.code for s in zonal.stations}
    assert len(codes) == 7500
    assert all(len(c) == 5 and ZONAL_CODE_START <= int(c) <= 99999 for c in codes)
    assert not codes & {s.code for s in trunk.stations}
    assert not {r.code for r in zonal.routes} & {r.code for r in trunk.routes}
    assert all(s.corridor is None for s in zonal.stations)


def test_zonal_stops_follow_population() -> None:
    per_locality = Counter(s.locality_code for s in synthesize_zonal(random_seed=0).stations)
    assert per_locality["20"] == 0  # Sumapaz: rural, no urban stops
    assert per_locality["11"] > per_locality["02"] > per_locality["17"] > 0
    assert len(per_locality) == 19


def test_zonal_and_feeder_routes(network: ReferenceNetwork) -> None:
    stations = network.stations_by_code()
    synthesized = [r for r in network.routes if r.kind in ("zonal", "feeder")]
    kinds = Counter(r.kind for r in synthesized)
    assert kinds["feeder"] > 0
    assert kinds["zonal"] > kinds["feeder"]
    for route in synthesized:
        assert 15 <= len(route.stops) <= 40, route.code
        ends = (stations[route.stops[0].station_code], stations[route.stops[-1].station_code])
        if route.kind == "feeder":
            assert ends[0] == ends[1]
            assert ends[0].kind == "portal"
            assert all(stations[s.station_code].kind == "zonal" for s in route.stops[1:-1])
        else:
            assert all(stations[s.station_code].kind == "zonal" for s in route.stops)
            assert len({s.station_code for s in route.stops}) == len(route.stops)
        # 15-40 stops a few hundred metres apart at 18 km/h: well under two hours.
        assert 5 <= route.stops[-1].minutes_from_start <= 120, route.code


def test_synthesis_is_deterministic_per_seed() -> None:
    first = synthesize_zonal(random_seed=7, stops=800, routes=50)
    again = synthesize_zonal(random_seed=7, stops=800, routes=50)
    other = synthesize_zonal(random_seed=8, stops=800, routes=50)
    assert first == again
    assert first.stations != other.stations
    assert [r.stops for r in first.routes] != [r.stops for r in other.routes]
    assert len(first.stations) == 800
    assert len(first.routes) == 50


def test_synthesis_does_not_touch_the_global_random() -> None:
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    synthesize_zonal(random_seed=3, stops=200, routes=10)
    assert random.random() == expected


def test_synthesis_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="stops"):
        synthesize_zonal(stops=10)
    with pytest.raises(ValueError, match="stops"):
        synthesize_zonal(stops=80001)
    with pytest.raises(ValueError, match="routes"):
        synthesize_zonal(routes=-1)


def test_the_stop_index_finds_what_a_search_of_every_stop_finds() -> None:
    """The full synthesis is quick because routes find their next stop through a grid index
    instead of scanning all 7,500 stops; the index must give the scan's answer (a timed bound
    would pass or fail with the machine's load, not with the code)."""
    stops = synthesize_zonal(random_seed=42).stations
    index = _StopIndex(stops)
    rng = random.Random(5)
    taken: set[int] = set()
    for _ in range(300):
        latitude, longitude = rng.uniform(4.45, 4.85), rng.uniform(-74.25, -73.99)

        def squared_distance(i: int, lat: float = latitude, lon: float = longitude) -> float:
            return (stops[i].latitude - lat) ** 2 + (stops[i].longitude - lon) ** 2

        found = index.nearest(latitude, longitude, taken)
        best = min((i for i in range(len(stops)) if i not in taken), key=squared_distance)
        assert found not in taken
        assert squared_distance(found) == squared_distance(best)
        taken.add(found)  # routes take the stops they place: later queries must skip them


def test_build_reference_network_is_trunk_plus_zonal(
    network: ReferenceNetwork, trunk: ReferenceNetwork
) -> None:
    assert network.stations[: len(trunk.stations)] == trunk.stations
    assert network.routes[: len(trunk.routes)] == trunk.routes
    assert len(network.stations) == len(trunk.stations) + 7500
    assert len(network.routes) == len(trunk.routes) + 600


@pytest.mark.parametrize(
    ("wall_clock", "band"),
    [
        (time(0, 0), None),
        (time(3, 59, 59), None),
        (time(4, 0), "early"),
        (time(5, 59, 59), "early"),
        (time(6, 0), "peak_am"),
        (time(8, 59, 59), "peak_am"),
        (time(9, 0), "midday"),
        (time(15, 59, 59), "midday"),
        (time(16, 0), "peak_pm"),
        (time(19, 59, 59), "peak_pm"),
        (time(20, 0), "evening"),
        (time(22, 59, 59, 999999), "evening"),
        (time(23, 0), None),
        (time(23, 59, 59), None),
        (time(7, 30, tzinfo=UTC), "peak_am"),
    ],
)
def test_band_for_boundaries(wall_clock: time, band: str | None) -> None:
    assert band_for(wall_clock) == band
