"""The Bogotá reference network the product ships: localities, trunk stations and routes.

Trunk stations, TransMiCable and trunk routes are hand-written data in ``travel_recharge/data``
(see NETWORK_NOTES.md). The ~7,500 zonal stops and ~600 zonal and feeder routes are
synthesized deterministically from a seed, because the real zonal network is too large to
curate by hand and the product only needs its shape (counts, density, route lengths).
Pure: no database, no I/O besides reading the package data.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from importlib import resources
from types import MappingProxyType

# Inclusive bounds every station and stop must respect: (min, max) latitude and longitude.
BOGOTA_LATITUDE = (4.45, 4.85)
BOGOTA_LONGITUDE = (-74.25, -74.00)
STATION_KINDS = frozenset({"portal", "trunk", "cable", "zonal"})
ROUTE_KINDS = frozenset({"trunk", "cable", "zonal", "feeder"})
DEFAULT_ZONAL_STOPS = 7500
DEFAULT_ZONAL_ROUTES = 600
# Zonal stop codes start above every trunk code (corridor prefixes stop at 13).
ZONAL_CODE_START = 20000
_EARTH_RADIUS_KM = 6371.0
_KM_PER_DEGREE = 111.2
# (km/h, dwell minutes per intermediate stop): trunk buses run on segregated lanes; cable
# gondolas move at ~5 m/s but slow through stations; zonal speeds already include stops.
_RUNNING = {"trunk": (25.0, 0.5), "cable": (16.0, 1.0), "zonal": (18.0, 0.0), "feeder": (18.0, 0.0)}


@dataclass(frozen=True, slots=True)
class Band:
    name: str
    start: time
    end: time  # exclusive


# Service runs 04:00-23:00; the bands are where headways change.
BANDS: tuple[Band, ...] = (
    Band("early", time(4, 0), time(6, 0)),
    Band("peak_am", time(6, 0), time(9, 0)),
    Band("midday", time(9, 0), time(16, 0)),
    Band("peak_pm", time(16, 0), time(20, 0)),
    Band("evening", time(20, 0), time(23, 0)),
)
BAND_NAMES: tuple[str, ...] = tuple(band.name for band in BANDS)


def band_for(local_time: time) -> str | None:
    """The time band of a Bogotá wall-clock time, or None outside service hours (23:00-04:00)."""
    # Aware and naive times do not compare; the bands are wall-clock, so drop any tzinfo.
    naive = local_time.replace(tzinfo=None)
    for band in BANDS:
        if band.start <= naive < band.end:
            return band.name
    return None


@dataclass(frozen=True, slots=True)
class Locality:
    code: str
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Station:
    code: str
    name: str
    kind: str
    locality_code: str
    latitude: float
    longitude: float
    corridor: str | None = None


@dataclass(frozen=True, slots=True)
class RouteStop:
    station_code: str
    sequence: int
    minutes_from_start: int


@dataclass(frozen=True, slots=True)
class Route:
    code: str
    name: str
    kind: str
    # Read-only view; a missing band means the route does not run in it. Kept out of the
    # hash so routes stay hashable.
    headways: Mapping[str, int] = field(hash=False)
    stops: tuple[RouteStop, ...]


@dataclass(frozen=True, slots=True)
class ReferenceNetwork:
    localities: tuple[Locality, ...]
    stations: tuple[Station, ...]
    routes: tuple[Route, ...]

    def stations_by_code(self) -> dict[str, Station]:
        return {station.code: station for station in self.stations}

    def routes_by_code(self) -> dict[str, Route]:
        return {route.code: route for route in self.routes}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def in_bogota(latitude: float, longitude: float) -> bool:
    return (
        BOGOTA_LATITUDE[0] <= latitude <= BOGOTA_LATITUDE[1]
        and BOGOTA_LONGITUDE[0] <= longitude <= BOGOTA_LONGITUDE[1]
    )


def _read_text(name: str) -> str:
    return (resources.files("travel_recharge") / "data" / name).read_text(encoding="utf-8")


def _read_rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_read_text(name))))


@cache
def _locality_rows() -> tuple[dict[str, str], ...]:
    return tuple(_read_rows("localities.csv"))


@cache
def load_localities() -> tuple[Locality, ...]:
    """The 20 localidades of Bogotá, codes "01".."20", with a representative point."""
    localities = tuple(
        Locality(row["code"], row["name"], float(row["latitude"]), float(row["longitude"]))
        for row in _locality_rows()
    )
    if [loc.code for loc in localities] != [f"{i:02d}" for i in range(1, len(localities) + 1)]:
        raise ValueError("localities.csv: codes must run 01, 02, ... in order")
    return localities


def _timed_stops(kind: str, stations: Sequence[Station]) -> tuple[RouteStop, ...]:
    """Stops with minutes from the first one, from straight-line distance, speed and dwell."""
    speed_kmh, dwell = _RUNNING[kind]
    elapsed = 0.0
    stops = [RouteStop(stations[0].code, 1, 0)]
    for i in range(1, len(stations)):
        a, b = stations[i - 1], stations[i]
        travel = haversine_km(a.latitude, a.longitude, b.latitude, b.longitude) / speed_kmh * 60
        elapsed += travel + (dwell if i > 1 else 0.0)
        # Rounding the running total (not each hop) keeps the error under half a minute.
        stops.append(RouteStop(b.code, i + 1, round(elapsed)))
    return tuple(stops)


def _make_route(
    code: str, name: str, kind: str, headways: Mapping[str, int], stations: Sequence[Station]
) -> Route:
    if kind not in ROUTE_KINDS:
        raise ValueError(f"route {code}: unknown kind {kind!r}")
    if not set(headways) <= set(BAND_NAMES) or any(v <= 0 for v in headways.values()):
        raise ValueError(f"route {code}: headways must be positive minutes per known band")
    if len(stations) < 2:
        raise ValueError(f"route {code}: needs at least two stops")
    ordered = MappingProxyType({b: headways[b] for b in BAND_NAMES if b in headways})
    return Route(code, name, kind, ordered, _timed_stops(kind, stations))


def _parse_station(row: Mapping[str, str], locality_codes: set[str]) -> Station:
    s = Station(
        row["code"], row["name"], row["kind"], row["locality_code"],
        float(row["latitude"]), float(row["longitude"]), row["corridor"] or None,
    )  # fmt: skip
    checks = {
        "code is not 5 digits": len(s.code) == 5 and s.code.isdigit(),
        "kind is not portal, trunk or cable": s.kind in STATION_KINDS - {"zonal"},
        "unknown locality": s.locality_code in locality_codes,
        "coordinates outside Bogotá": in_bogota(s.latitude, s.longitude),
    }
    for problem, ok in checks.items():
        if not ok:
            raise ValueError(f"trunk_stations.csv {s.code} {s.name}: {problem}")
    return s


@cache
def load_trunk_network() -> ReferenceNetwork:
    """Localities, trunk/portal/cable stations and trunk/cable routes from the package data."""
    localities = load_localities()
    locality_codes = {loc.code for loc in localities}
    stations = tuple(
        _parse_station(row, locality_codes) for row in _read_rows("trunk_stations.csv")
    )
    by_code = {station.code: station for station in stations}
    if len(by_code) != len(stations):
        raise ValueError("trunk_stations.csv: duplicate station codes")

    document = json.loads(_read_text("trunk_routes.json"))
    routes: list[Route] = []
    for entry in document["routes"]:
        served: list[Station] = []
        for stop in entry["stops"]:
            # Stops are "<code> <name>" so the file stays reviewable; the name must agree.
            code, _, name = stop.partition(" ")
            station = by_code.get(code)
            if station is None or station.name != name:
                raise ValueError(f"trunk_routes.json {entry['code']}: bad stop {stop!r}")
            served.append(station)
        routes.append(
            _make_route(entry["code"], entry["name"], entry["kind"], entry["headways"], served)
        )
    if len({route.code for route in routes}) != len(routes):
        raise ValueError("trunk_routes.json: duplicate route codes")
    return ReferenceNetwork(localities, stations, tuple(routes))


# Zonal synthesis.


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of ``total`` so the counts add up exactly."""
    weight_sum = sum(weights)
    quotas = [total * w / weight_sum for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _corner_name(rng: random.Random, latitude: float, longitude: float) -> str:
    """A street-corner name ("Cl 45A Sur - Kr 13") roughly matching Bogotá's grid there."""
    # Calle 1 runs near 4.598 N with ~100 m per calle; carreras run NNE, so the meridian of
    # Carrera 7 shifts east going north (about 0.4 degrees of longitude per degree of latitude).
    calle = round((latitude - 4.598) / 0.0009)
    west = -74.075 + (latitude - 4.598) * 0.4 - longitude  # degrees west of Carrera 7
    # West of Av. 68 (Carrera 68) blocks are longer, so numbers grow more slowly there.
    carrera = 7 + round(west / 0.00075 if west < 0.045 else 60 + (west - 0.045) / 0.0014)
    calle_type = "Dg" if rng.random() < 0.2 else "Cl"
    carrera_type = "Tv" if rng.random() < 0.2 else "Kr"
    suffixes = ("", "", "", "", "A", "B", "C", " Bis")
    calle_text = f"{max(abs(calle), 1)}{rng.choice(suffixes)}" + (" Sur" if calle < 0 else "")
    carrera_text = f"{carrera}{rng.choice(suffixes)}" if carrera >= 1 else f"{1 - carrera} Este"
    return f"{calle_type} {calle_text} - {carrera_type} {carrera_text}"


class _StopIndex:
    """Uniform grid over the stops: nearest-stop queries touch a few cells, not 7,500 stops."""

    _CELL = 0.005  # degrees, ~550 m

    def __init__(self, stations: Sequence[Station]) -> None:
        self._stations = stations
        self._cells: dict[tuple[int, int], list[int]] = {}
        for i, station in enumerate(stations):
            self._cells.setdefault(self._cell(station.latitude, station.longitude), []).append(i)

    def _cell(self, latitude: float, longitude: float) -> tuple[int, int]:
        return math.floor(latitude / self._CELL), math.floor(longitude / self._CELL)

    def nearest(self, latitude: float, longitude: float, taken: set[int]) -> int:
        """Index of the closest stop not in ``taken`` (flat distance is exact enough here)."""
        cx, cy = self._cell(latitude, longitude)
        best, best_d2 = -1, math.inf
        for r in range(200):
            ring = range(-r, r + 1)
            for dx, dy in ((dx, dy) for dx in ring for dy in ring if max(abs(dx), abs(dy)) == r):
                for i in self._cells.get((cx + dx, cy + dy), ()):
                    s = self._stations[i]
                    d2 = (s.latitude - latitude) ** 2 + (s.longitude - longitude) ** 2
                    if i not in taken and d2 < best_d2:
                        best, best_d2 = i, d2
            # Anything in ring r+1 or beyond is at least r cells away.
            if best >= 0 and best_d2 <= (r * self._CELL) ** 2:
                return best
        if best < 0:
            raise ValueError("no free stop left to place on a route")
        return best


def _synthesize_stops(rng: random.Random, count: int) -> tuple[Station, ...]:
    localities = load_localities()
    rows = {row["code"]: row for row in _locality_rows()}
    # A locality whose point lies outside the urban bbox (Sumapaz, rural) gets no stops: its
    # handful of rural routes is out of scope for the synthetic network.
    urban = [loc for loc in localities if in_bogota(loc.latitude, loc.longitude)]
    counts = _apportion(count, [float(rows[loc.code]["population"]) for loc in urban])
    stations: list[Station] = []
    for loc, n in zip(urban, counts, strict=True):
        sigma = float(rows[loc.code]["spread_km"]) / _KM_PER_DEGREE
        for _ in range(n):
            for _attempt in range(20):
                lat, lon = rng.gauss(loc.latitude, sigma), rng.gauss(loc.longitude, sigma)
                if in_bogota(lat, lon):
                    break
            else:
                lat = min(max(lat, BOGOTA_LATITUDE[0]), BOGOTA_LATITUDE[1])
                lon = min(max(lon, BOGOTA_LONGITUDE[0]), BOGOTA_LONGITUDE[1])
            lat, lon = round(lat, 6), round(lon, 6)
            code = f"{ZONAL_CODE_START + len(stations):05d}"
            name = _corner_name(rng, lat, lon)
            stations.append(Station(code, name, "zonal", loc.code, lat, lon))
    return tuple(stations)


def _zonal_headways(rng: random.Random, feeder: bool) -> dict[str, int]:
    if feeder:
        peak = rng.randint(3, 6)
        midday = peak + rng.randint(3, 5)
        values = (midday, peak, midday, peak + 1, midday + 3)  # in BAND_NAMES order
        return dict(zip(BAND_NAMES, values, strict=True))
    peak = rng.choice((6, 8, 10, 12, 15))
    midday = peak + rng.choice((4, 6, 8))
    headways = {"peak_am": peak, "midday": midday, "peak_pm": peak}
    # Many zonal routes start after the early band or stop before the evening one.
    if rng.random() < 0.7:
        headways["early"] = midday + 5
    if rng.random() < 0.8:
        headways["evening"] = midday + rng.choice((0, 5, 10))
    return headways


def _zonal_code(rng: random.Random, used: set[str]) -> str:
    while True:
        if rng.random() < 0.45:
            code = f"{rng.randint(10, 99)}-{rng.randint(1, 12)}"  # feeders own prefixes 1-9
        else:
            code = f"{rng.choice(('C', 'T', 'P', 'E', 'Z', 'K', 'SE'))}{rng.randint(1, 199)}"
        if code not in used:
            used.add(code)
            return code


def _offset(lat: float, lon: float, distance: float, angle: float) -> tuple[float, float]:
    return lat + distance * math.cos(angle), lon + distance * math.sin(angle)


def _walk(rng: random.Random, index: _StopIndex, stops: Sequence[Station], n: int) -> list[int]:
    """A zonal route: a gently turning walk across the city snapped to unvisited stops."""
    current = rng.randrange(len(stops))
    chosen, taken = [current], {current}
    heading = rng.uniform(0, 2 * math.pi)
    step = rng.uniform(0.35, 0.6) / _KM_PER_DEGREE
    for _ in range(n - 1):
        heading += rng.gauss(0, 0.35)
        here = stops[current]
        lat, lon = _offset(here.latitude, here.longitude, step, heading)
        if not in_bogota(lat, lon):
            heading += math.pi  # bounce off the city edge instead of piling up on it
            lat, lon = _offset(here.latitude, here.longitude, step, heading)
        current = index.nearest(lat, lon, taken)
        chosen.append(current)
        taken.add(current)
    return chosen


def _loop(
    rng: random.Random, index: _StopIndex, portal: Station, n: int
) -> tuple[list[int], float, float]:
    """A feeder loop of n-2 zonal stops on a circle through the portal; returns the far point."""
    radius = (n - 1) * rng.uniform(0.3, 0.5) / (2 * math.pi) / _KM_PER_DEGREE
    theta = rng.uniform(0, 2 * math.pi)
    c_lat, c_lon = _offset(portal.latitude, portal.longitude, radius, theta)
    chosen: list[int] = []
    for j in range(1, n - 1):
        angle = theta + math.pi + 2 * math.pi * j / (n - 1)
        chosen.append(index.nearest(*_offset(c_lat, c_lon, radius, angle), set(chosen)))
    return chosen, *_offset(c_lat, c_lon, radius, theta)


def synthesize_zonal(
    random_seed: int = 0, stops: int = DEFAULT_ZONAL_STOPS, routes: int = DEFAULT_ZONAL_ROUTES
) -> ReferenceNetwork:
    """Deterministic synthetic zonal stops plus zonal and feeder routes for a seed.

    Feeder routes start and end at trunk portals, which are not among the returned stations:
    merge with load_trunk_network() (build_reference_network does) before resolving stops.
    """
    if not 100 <= stops <= 100000 - ZONAL_CODE_START:
        raise ValueError("stops must be between 100 and 80,000")
    if routes < 0:
        raise ValueError("routes must not be negative")
    rng = random.Random(random_seed)  # never the global generator: same seed, same network
    trunk = load_trunk_network()
    names = {loc.code: loc.name for loc in trunk.localities}
    zonal_stops = _synthesize_stops(rng, stops)
    index = _StopIndex(zonal_stops)
    portals = sorted((s for s in trunk.stations if s.kind == "portal"), key=lambda s: s.code)
    used = {route.code for route in trunk.routes}
    built: list[Route] = []

    feeders = routes // 10
    for k in range(feeders):
        # Feeder prefixes 1..9 follow the portal order; the suffix numbers that portal's loops.
        p = k % len(portals)
        portal = portals[p]
        loop, far_lat, far_lon = _loop(rng, index, portal, rng.randint(15, 40))
        far = zonal_stops[index.nearest(far_lat, far_lon, set())]
        code = f"{p + 1}-{k // len(portals) + 1}"
        used.add(code)
        name = f"{portal.name} - {names[far.locality_code]} (circular)"
        path = [portal, *(zonal_stops[i] for i in loop), portal]
        built.append(_make_route(code, name, "feeder", _zonal_headways(rng, True), path))

    for _ in range(routes - feeders):
        path = [zonal_stops[i] for i in _walk(rng, index, zonal_stops, rng.randint(15, 40))]
        first, last = path[0], path[-1]
        name = (
            f"{names[first.locality_code]} ({first.name}) - "
            f"{names[last.locality_code]} ({last.name})"
        )
        code = _zonal_code(rng, used)
        built.append(_make_route(code, name, "zonal", _zonal_headways(rng, False), path))
    return ReferenceNetwork(trunk.localities, zonal_stops, tuple(built))


def build_reference_network(random_seed: int = 0) -> ReferenceNetwork:
    """The whole reference network: shipped trunk data plus the zonal network for a seed."""
    trunk = load_trunk_network()
    zonal = synthesize_zonal(random_seed)
    return ReferenceNetwork(
        trunk.localities, trunk.stations + zonal.stations, trunk.routes + zonal.routes
    )
