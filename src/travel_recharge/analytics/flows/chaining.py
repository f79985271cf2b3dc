"""Trip chaining: where each trip of a card's day ended, inferred from its next boarding.

Most trips have no exit tap (zonal buses never have one, and Bogotá does not charge on exit),
so their destination is inferred the standard way for smart-card data (Trépanier, Tranchant
and Chapleau, 2007): a trip ends at the stop it could alight at that lies nearest to the
card's next boarding, and the day's last trip ends near the day's first boarding. The
inference is refused when that walk is longer than a limit, and a card's only trip of the day
gets none (its next boarding would be itself).

Where a trip could alight: a trunk ride at any trunk station or portal (the system is closed:
riders change lines inside without tapping), a TransMiCable ride at any station of its
lines, a bus ride at any stop of its route. A bus tap names the route, not the stop, so a bus
trip's boarding stop is inferred by the same link: the stop of its route nearest to where the
trip before it ended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

How = Literal["observed", "inferred", "unknown"]

EARTH_RADIUS_M = 6_371_000.0

# Where a trip can alight or board: a route's stops, one station, the trunk network, or the
# cable lines through a station.
Place = tuple[str, int]
TRUNK_NETWORK: Place = ("trunk", 0)


@dataclass(frozen=True, slots=True)
class Boarding:
    """One tap of a card's day, as the trips table has it."""

    hour: int  # local hour of the tap
    service_kind: str  # trunk, cable, zonal, feeder
    station_id: int | None  # a station tap; None for a bus tap
    route_id: int | None  # a bus tap's route
    exit_station_id: int | None  # an exit tap, when the rider made one
    is_transfer: bool


@dataclass(frozen=True, slots=True)
class Chained:
    """A boarding with its origin and destination stops (None where unknown)."""

    boarding: Boarding
    origin: int | None
    destination: int | None
    how: How
    walk_m: float | None  # from the destination to the next boarding, when inferred


@dataclass(frozen=True, slots=True)
class Link:
    alight: int
    board: int
    metres: float


class Network:
    """Stops with their coordinates and the routes through them, and the walk limit."""

    def __init__(
        self,
        points: Mapping[int, tuple[float, float]],  # stop -> (latitude, longitude)
        route_stops: Mapping[int, Sequence[int]],
        trunk_stations: Sequence[int],  # trunk stations and portals
        cable_routes: Sequence[int],
        max_walk_m: float,
    ) -> None:
        self.points = points
        self.route_stops = route_stops
        self.trunk_stations = tuple(trunk_stations)
        self.max_walk_m = max_walk_m
        self._cable_lines: dict[int, tuple[int, ...]] = {}
        for route in cable_routes:
            for station in route_stops[route]:
                joined = set(self._cable_lines.get(station, ())) | set(route_stops[route])
                self._cable_lines[station] = tuple(sorted(joined))
        self._arrays: dict[Place, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._links: dict[tuple[Place, Place], Link | None] = {}

    def stops(self, place: Place) -> tuple[int, ...]:
        kind, number = place
        if kind == "route":
            return tuple(self.route_stops.get(number, ()))
        if kind == "trunk":
            return self.trunk_stations
        if kind == "cable":
            return self._cable_lines.get(number, (number,))
        return (number,)

    def alight_place(self, boarding: Boarding) -> Place:
        if boarding.exit_station_id is not None:
            return ("station", boarding.exit_station_id)
        if boarding.station_id is None:
            return ("route", boarding.route_id or 0)
        if boarding.service_kind == "cable":
            return ("cable", boarding.station_id)
        return TRUNK_NETWORK

    @staticmethod
    def board_place(boarding: Boarding) -> Place:
        if boarding.station_id is None:
            return ("route", boarding.route_id or 0)
        return ("station", boarding.station_id)

    def link(self, alight: Place, board: Place) -> Link | None:
        """The closest pair of an alighting stop and a boarding stop. None when no stop is
        known, or for a bus ride followed by a ride on the same route: any stop of the route
        is nearest itself, so the link places neither."""
        if alight == board and alight[0] == "route":
            return None
        key = (alight, board)
        if key not in self._links:
            self._links[key] = self._closest(alight, board)
        return self._links[key]

    def _closest(self, alight: Place, board: Place) -> Link | None:
        a_ids, a_lat, a_lon = self._array(alight)
        b_ids, b_lat, b_lon = self._array(board)
        if not len(a_ids) or not len(b_ids):
            return None
        # Equirectangular distances: exact to well under a metre over a city's few kilometres.
        scale = np.cos(np.radians((a_lat.mean() + b_lat.mean()) / 2))
        north = np.radians(a_lat[:, None] - b_lat[None, :])
        east = np.radians(a_lon[:, None] - b_lon[None, :]) * scale
        squared = north * north + east * east
        i, j = np.unravel_index(int(np.argmin(squared)), squared.shape)
        metres = EARTH_RADIUS_M * math.sqrt(float(squared[i, j]))
        return Link(int(a_ids[i]), int(b_ids[j]), metres)

    def _array(self, place: Place) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if place not in self._arrays:
            ids = [stop for stop in self.stops(place) if stop in self.points]
            self._arrays[place] = (
                np.array(ids, dtype=np.int64),
                np.array([self.points[s][0] for s in ids], dtype=np.float64),
                np.array([self.points[s][1] for s in ids], dtype=np.float64),
            )
        return self._arrays[place]


def chain_day(network: Network, day: Sequence[Boarding]) -> list[Chained]:
    """Origins and destinations of one card's boardings of one day, in time order."""
    count = len(day)
    # links[i]: from trip i's alighting to the next boarding (the first, after the last)
    links: list[Link | None] = [
        network.link(network.alight_place(trip), network.board_place(day[(i + 1) % count]))
        if count > 1
        else None
        for i, trip in enumerate(day)
    ]
    chained = []
    for i, trip in enumerate(day):
        before = links[i - 1] if count > 1 else None
        origin = trip.station_id
        if origin is None and before is not None and before.metres <= network.max_walk_m:
            origin = before.board
        chained.append(_ended(trip, origin, links[i], network.max_walk_m))
    return chained


def _ended(trip: Boarding, origin: int | None, link: Link | None, max_walk_m: float) -> Chained:
    if trip.exit_station_id is not None:
        return Chained(trip, origin, trip.exit_station_id, "observed", None)
    if link is None or link.metres > max_walk_m or link.alight == origin:
        return Chained(trip, origin, None, "unknown", None)
    return Chained(trip, origin, link.alight, "inferred", link.metres)
