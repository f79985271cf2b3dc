"""Route and station kinds to and from GTFS route types.

GTFS says how a route runs (route_type), not which fare family it belongs to; the mapping is
the closest reading: aerial lifts are cable, rail, metro, tram, ferry and express (BRT) bus
services run on their own right of way and are trunk, a shuttle bus is a feeder, any other
bus is zonal. Exported routes use the extended types that read back to the same kind.

A station's kind is not in GTFS either: it follows from the routes calling at it, the way the
reference network is built (a trunk station where feeders turn is a portal).
"""

from __future__ import annotations

from collections.abc import Collection

# Basic types (0-12) and the extended (Google) ones by hundred.
_CABLE_TYPES = frozenset({6, *range(1300, 1400)})
_FEEDER_TYPES = frozenset({711})
_ZONAL_TYPES = frozenset({3, 11, *range(200, 300), *range(700, 800), *range(800, 900)})
ROUTE_TYPE_OF_KIND = {"trunk": 702, "zonal": 3, "feeder": 711, "cable": 6}


def route_kind(route_type: int) -> str:
    if route_type in _CABLE_TYPES:
        return "cable"
    if route_type in _FEEDER_TYPES:
        return "feeder"
    if route_type in _ZONAL_TYPES and route_type != 702:
        return "zonal"
    return "trunk"


def known_route_type(route_type: int) -> bool:
    return 0 <= route_type <= 12 or 100 <= route_type <= 1799


def station_kind(route_kinds: Collection[str]) -> str:
    """The kind of a station served by routes of these kinds."""
    if "trunk" in route_kinds and "feeder" in route_kinds:
        return "portal"
    if "cable" in route_kinds and "trunk" not in route_kinds:
        return "cable"
    if "trunk" in route_kinds or "cable" in route_kinds:
        return "trunk"
    return "zonal"
