"""The generator's world built from the shipped reference data, without a database."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest

from travel_recharge.fares.policy import load_shipped_policies
from travel_recharge.network.reference import build_reference_network
from travel_recharge.seed.options import SeedOptions
from travel_recharge.seed.world import PolicyRow, RechargePointRow, RouteRow, StationRow, World

# A fixed anchor: the 14 days before it cross a month boundary (monthly benefit trips).
UNTIL = date(2026, 3, 2)


@cache
def reference_world() -> World:
    """The shipped network and policies with ids by position (the loader's ids differ)."""
    network = build_reference_network(0)
    ordered = sorted(network.stations, key=lambda s: s.code)
    ids = {s.code: i for i, s in enumerate(ordered, 1)}
    stations = {
        ids[s.code]: StationRow(
            ids[s.code], s.code, s.kind, s.locality_code, s.latitude, s.longitude
        )
        for s in ordered
    }
    routes = {
        i: RouteRow(i, r.code, r.kind, tuple(ids[stop.station_code] for stop in r.stops))
        for i, r in enumerate(sorted(network.routes, key=lambda r: r.code), 1)
    }
    placed = [s for s in stations.values() if s.kind != "zonal" or s.id % 40 == 0]
    points = tuple(
        RechargePointRow(i, "kiosk" if s.kind == "zonal" else "counter", s.locality_code)
        for i, s in enumerate(placed, 1)
    )
    policies = tuple(PolicyRow(i, p) for i, p in enumerate(load_shipped_policies(), 1))
    return World(stations, routes, points, policies)


@pytest.fixture(scope="session")
def world() -> World:
    return reference_world()


def small(users: int = 200, days: int = 14, seed: int = 7) -> SeedOptions:
    return SeedOptions(users=users, days=days, random_seed=seed, until=UNTIL)
