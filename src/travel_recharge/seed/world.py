"""The network and fare policies as the generator sees them: plain rows plus lookups.

Built from the rows of the database (the loader fetches them), so generated trips point at
the real ids and are priced by the stored policies. Pure and picklable: worker processes
receive it once.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from travel_recharge.fares.policy import FarePolicy
from travel_recharge.network.reference import haversine_km

TRUNK_KINDS = frozenset({"portal", "trunk"})


@dataclass(frozen=True, slots=True)
class StationRow:
    id: int
    code: str
    kind: str  # portal, trunk, cable, zonal
    locality_code: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class RouteRow:
    id: int
    code: str
    kind: str  # trunk, zonal, feeder, cable
    stop_ids: tuple[int, ...]  # in sequence order


@dataclass(frozen=True, slots=True)
class RechargePointRow:
    id: int
    channel: str  # counter, kiosk (web points post through another flow)
    locality_code: str | None


@dataclass(frozen=True, slots=True)
class PolicyRow:
    id: int
    policy: FarePolicy


def _group(pairs: list[tuple[str, int]]) -> dict[str, tuple[int, ...]]:
    grouped: defaultdict[str, list[int]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return {key: tuple(sorted(set(values))) for key, values in grouped.items()}


@dataclass
class World:
    stations: dict[int, StationRow]
    routes: dict[int, RouteRow]
    recharge_points: tuple[RechargePointRow, ...]
    policies: tuple[PolicyRow, ...]  # oldest first
    _starts: list[datetime] = field(init=False, repr=False)
    points: dict[int, RechargePointRow] = field(init=False)
    trunk_by_locality: dict[str, tuple[int, ...]] = field(init=False)
    zonal_by_locality: dict[str, tuple[int, ...]] = field(init=False)
    feeders_by_locality: dict[str, tuple[int, ...]] = field(init=False)
    counters_by_locality: dict[str, tuple[int, ...]] = field(init=False)
    kiosks_by_locality: dict[str, tuple[int, ...]] = field(init=False)
    trunk_stations: tuple[int, ...] = field(init=False)
    zonal_routes: tuple[int, ...] = field(init=False)
    counters: tuple[int, ...] = field(init=False)
    cable_route: RouteRow | None = field(init=False)
    cable_portal: int | None = field(init=False)  # the trunk portal beside the cable's base

    def __post_init__(self) -> None:
        if not self.policies:
            raise ValueError("no fare policies: run the migrations first")
        self._starts = [row.policy.effective_from for row in self.policies]
        stations = self.stations.values()
        self.trunk_stations = tuple(sorted(s.id for s in stations if s.kind in TRUNK_KINDS))
        if not self.trunk_stations:
            raise ValueError("the network has no trunk stations: load the reference network")
        self.trunk_by_locality = _group(
            [(s.locality_code, s.id) for s in stations if s.kind in TRUNK_KINDS]
        )
        touching: dict[str, list[tuple[str, int]]] = {"zonal": [], "feeder": []}
        for route in self.routes.values():
            if route.kind in touching:
                touching[route.kind] += [
                    (self.stations[stop].locality_code, route.id) for stop in route.stop_ids
                ]
        self.zonal_by_locality = _group(touching["zonal"])
        self.zonal_routes = tuple(sorted({route for _, route in touching["zonal"]}))
        # A feeder starts at its portal: it serves the localities its loop touches.
        self.feeders_by_locality = _group(
            [
                pair
                for pair in touching["feeder"]
                if self.stations[self.routes[pair[1]].stop_ids[0]].kind == "portal"
            ]
        )
        points = self.recharge_points
        self.points = {p.id: p for p in points}
        self.counters = tuple(p.id for p in points if p.channel == "counter")
        self.counters_by_locality = _group(
            [(p.locality_code, p.id) for p in points if p.channel == "counter" and p.locality_code]
        )
        self.kiosks_by_locality = _group(
            [(p.locality_code, p.id) for p in points if p.channel == "kiosk" and p.locality_code]
        )
        if not self.counters or not self.zonal_routes:
            raise ValueError("the network has no counters or zonal routes: load it first")
        cables = [r for r in self.routes.values() if r.kind == "cable" and len(r.stop_ids) > 1]
        self.cable_route = min(cables, key=lambda r: r.id) if cables else None
        self.cable_portal = (
            self.nearest_trunk(self.stations[self.cable_route.stop_ids[0]])
            if self.cable_route
            else None
        )

    def policy_at(self, at: datetime) -> PolicyRow:
        """The policy in force at `at`, as fares.policy.policy_in_force picks it."""
        index = bisect.bisect_right(self._starts, at) - 1
        if index < 0:
            raise ValueError(f"no fare policy is in force at {at.isoformat()}")
        return self.policies[index]

    def nearest_trunk(self, station: StationRow) -> int:
        return min(
            self.trunk_stations,
            key=lambda s: (
                haversine_km(
                    station.latitude,
                    station.longitude,
                    self.stations[s].latitude,
                    self.stations[s].longitude,
                ),
                s,
            ),
        )

    def distance_km(self, a: int, b: int) -> float:
        first, second = self.stations[a], self.stations[b]
        return haversine_km(first.latitude, first.longitude, second.latitude, second.longitude)

    def locality_of_route(self, route_id: int) -> str:
        return self.stations[self.routes[route_id].stop_ids[0]].locality_code
