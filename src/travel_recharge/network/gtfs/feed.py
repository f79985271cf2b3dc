"""A whole feed read and checked, as the network it describes (stations and routes). Pure.

Our network has one stop order per route and one timetable for every day, so from a feed we
take, per route: the trips of a typical weekday (services running on Mondays; all its trips
when none does), of direction 0 when it has any, and among those the most common stop order.
The route's stops are that order, timed by its first trip (blank intermediate times are
interpolated); its departures are the first-stop departures of every trip with that order,
frequency-based trips expanded from their frequencies.txt windows.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from travel_recharge.network.gtfs.errors import FeedProblem, FeedRefused, Problems
from travel_recharge.network.gtfs.kinds import station_kind
from travel_recharge.network.gtfs.reading import open_feed
from travel_recharge.network.gtfs.schedule import (
    NO_TIME,
    ROUTE_CODE_MAX,
    Calls,
    FeedRoute,
    FeedTrip,
    Frequency,
    read_agencies,
    read_frequencies,
    read_routes,
    read_services,
    read_stop_times,
    read_trips,
)
from travel_recharge.network.gtfs.stops import FeedStation, read_stops
from travel_recharge.network.gtfs.timetable import band_headways, expand_window

REQUIRED_FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
CALENDAR_FILES = ("calendar.txt", "calendar_dates.txt")


@dataclass(frozen=True, slots=True)
class ImportedStation:
    feed: FeedStation
    kind: str


@dataclass(frozen=True, slots=True)
class ImportedRoute:
    gtfs_id: str
    code: str
    name: str
    kind: str
    stations: tuple[str, ...]  # station gtfs ids in calling order
    minutes: tuple[int, ...]  # minutes from the first stop, per call
    departures: tuple[int, ...]  # sorted seconds after the service day's start
    headways: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class FeedNetwork:
    stations: tuple[ImportedStation, ...]
    routes: tuple[ImportedRoute, ...]
    routes_without_trips: int


@dataclass(frozen=True, slots=True)
class _Trip:
    """A checked trip: its station order and call times (NO_TIME where blank)."""

    stations: tuple[str, ...]
    times: tuple[int, ...]  # the departure at the first call, arrivals after it


def _checked(
    trip: FeedTrip,
    calls: Calls | None,
    stops: list[str],
    station_of: Mapping[str, str],
    problems: Problems,
) -> _Trip | None:
    where = f"trip {trip.trip_id!r}"
    if calls is None or len(calls.sequences) < 2:
        problems.add("trips.txt", trip.line, f"{where} has fewer than two stop_times")
        return None
    order = sorted(range(len(calls.sequences)), key=calls.sequences.__getitem__)
    sequences = [calls.sequences[i] for i in order]
    if len(set(sequences)) != len(sequences):
        problems.add("stop_times.txt", None, f"{where} repeats a stop_sequence")
        return None
    times = []
    for k, i in enumerate(order):
        # A vehicle leaves its first stop at the departure, reaches the others at the arrival.
        first, second = (
            (calls.departures, calls.arrivals) if k == 0 else (calls.arrivals, calls.departures)
        )
        times.append(first[i] if first[i] != NO_TIME else second[i])
    if times[0] == NO_TIME or times[-1] == NO_TIME:
        problems.add("stop_times.txt", None, f"{where}: its first and last stops need times")
        return None
    known = [t for t in times if t != NO_TIME]
    if any(b < a for a, b in itertools.pairwise(known)):
        problems.add("stop_times.txt", None, f"{where}: times go backwards along stop_sequence")
        return None
    stations = tuple(station_of[stops[calls.stops[i]]] for i in order)
    return _Trip(stations, tuple(times))


def _interpolated(times: tuple[int, ...]) -> list[int]:
    """Blank call times filled in proportionally between the known ones around them."""
    filled = list(times)
    last_known = 0
    for k in range(1, len(filled)):
        if filled[k] == NO_TIME:
            continue
        for j in range(last_known + 1, k):
            span = filled[k] - filled[last_known]
            filled[j] = filled[last_known] + span * (j - last_known) // (k - last_known)
        last_known = k
    return filled


def _route(
    route: FeedRoute,
    code: str,
    trips: list[FeedTrip],
    checked: Mapping[str, _Trip],
    frequencies: Mapping[str, list[Frequency]],
    weekday: set[str],
) -> ImportedRoute:
    chosen = [t for t in trips if t.service_id in weekday] or trips
    chosen = [t for t in chosen if t.direction in {"", "0"}] or chosen
    chosen.sort(key=lambda t: t.trip_id)
    patterns = Counter(checked[t.trip_id].stations for t in chosen)
    # Most trips first; among equals the pattern of the first trip id, so reruns agree.
    first_of: dict[tuple[str, ...], FeedTrip] = {}
    for trip in chosen:
        first_of.setdefault(checked[trip.trip_id].stations, trip)
    pattern = min(patterns, key=lambda p: (-patterns[p], first_of[p].trip_id))
    template = _interpolated(checked[first_of[pattern].trip_id].times)
    departures: set[int] = set()
    for trip in chosen:
        calls = checked[trip.trip_id]
        if calls.stations != pattern:
            continue
        windows = frequencies.get(trip.trip_id)
        if windows:
            for window in windows:
                departures.update(expand_window(window.start, window.end, window.headway))
        else:
            departures.add(calls.times[0])
    return ImportedRoute(
        gtfs_id=route.gtfs_id,
        code=code,
        name=route.name,
        kind=route.kind,
        stations=pattern,
        minutes=tuple(round((t - template[0]) / 60) for t in template),
        departures=tuple(sorted(departures)),
        headways=MappingProxyType(band_headways(departures)),
    )


def _route_codes(routes: Mapping[str, FeedRoute], problems: Problems) -> dict[str, str]:
    """The short name where it is a unique code, else the route_id."""
    shorts = Counter(route.short_name for route in routes.values())
    codes: dict[str, str] = {}
    holder: dict[str, FeedRoute] = {}
    for route in routes.values():
        short_ok = route.short_name and shorts[route.short_name] == 1
        code = route.short_name if short_ok and len(route.short_name) <= ROUTE_CODE_MAX else ""
        code = code or (route.gtfs_id if len(route.gtfs_id) <= ROUTE_CODE_MAX else "")
        if not code:
            problems.add(
                "routes.txt",
                route.line,
                f"no code of at most {ROUTE_CODE_MAX} characters: route_short_name is "
                "empty, shared or long and route_id is long",
            )
        elif code in holder:
            problems.add(
                "routes.txt", route.line, f"code {code!r} is also route line {holder[code].line}'s"
            )
        holder[code] = route
        codes[route.gtfs_id] = code
    return codes


def read_feed(path: Path) -> FeedNetwork:
    """The network in the feed at `path`; FeedRefused with every problem found otherwise."""
    problems = Problems()
    with open_feed(path) as feed:
        missing = [file for file in REQUIRED_FILES if not feed.has(file)]
        if not any(feed.has(file) for file in CALENDAR_FILES):
            missing.append("calendar.txt (or calendar_dates.txt)")
        if missing:
            raise FeedRefused(
                [FeedProblem(file, None, "required file is missing") for file in missing]
            )
        agencies = read_agencies(feed, problems)
        stops = read_stops(feed, problems)
        routes = read_routes(feed, agencies, problems)
        services, weekday = read_services(feed, problems)
        trips = read_trips(feed, routes, services, problems)
        stop_ids = list(stops.station_of_stop)
        stop_index = {stop_id: i for i, stop_id in enumerate(stop_ids)}
        calls = read_stop_times(feed, trips, stops, stop_index, problems)
        frequencies = read_frequencies(feed, trips, problems)
    problems.raise_any()  # the checks below rely on every reference resolving
    checked: dict[str, _Trip] = {}
    for trip in trips.checked.values():
        found = _checked(
            trip, calls.pop(trip.trip_id, None), stop_ids, stops.station_of_stop, problems
        )
        if found is not None:
            checked[trip.trip_id] = found
    codes = _route_codes(routes, problems)
    problems.raise_any()

    trips_of: dict[str, list[FeedTrip]] = {}
    for trip in trips.checked.values():
        trips_of.setdefault(trip.route_id, []).append(trip)
    imported = tuple(
        _route(route, codes[route_id], trips_of[route_id], checked, frequencies, weekday)
        for route_id, route in routes.items()
        if route_id in trips_of
    )
    kinds_at: dict[str, set[str]] = {}
    for route in imported:
        for station in route.stations:
            kinds_at.setdefault(station, set()).add(route.kind)
    stations = tuple(
        ImportedStation(station, station_kind(kinds_at.get(stop_id, set())))
        for stop_id, station in stops.stations.items()
    )
    return FeedNetwork(stations, imported, len(routes) - len(imported))
