"""A day's chained trips counted the way they are stored: by band, origin and destination
(localities; stations), and the transfers by the lines they link and the stop where they
happen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from travel_recharge.analytics.flows.bands import Band, band_of
from travel_recharge.analytics.flows.chaining import Boarding, Chained, How
from travel_recharge.models.flows import UNKNOWN_DESTINATION, WHOLE_DAY

STATION_KINDS = frozenset({"portal", "trunk", "cable"})  # the station matrix's stations


@dataclass(frozen=True, slots=True)
class Places:
    """What the counts name: each stop's kind and locality, each route's code and the
    locality of its first stop (where a bus boarding's stop is not known)."""

    station_kind: Mapping[int, str]
    station_locality: Mapping[int, str]
    route_code: Mapping[int, str]
    route_locality: Mapping[int, str]

    def origin_locality(self, trip: Chained) -> str:
        if trip.origin is not None:
            return self.station_locality[trip.origin]
        return self.route_locality.get(trip.boarding.route_id or 0, "00")

    def line(self, boarding: Boarding) -> str:
        """A bus route by its code; a station tap by its network (trunk or cable)."""
        if boarding.route_id is not None:
            return self.route_code.get(boarding.route_id, str(boarding.route_id))
        return boarding.service_kind


@dataclass(slots=True)
class DayCounts:
    trips: int = 0
    localities: Counter[tuple[Band, str, str, How]] = field(default_factory=Counter)
    stations: Counter[tuple[Band, int, int, How]] = field(default_factory=Counter)
    transfer_lines: Counter[tuple[Band, str, str, str, str]] = field(default_factory=Counter)
    transfer_places: Counter[tuple[Band, int]] = field(default_factory=Counter)

    def add_card_day(self, places: Places, day: Sequence[Chained]) -> None:
        for i, trip in enumerate(day):
            self.trips += 1
            band = band_of(trip.boarding.hour)
            destination = (
                UNKNOWN_DESTINATION
                if trip.destination is None
                else places.station_locality[trip.destination]
            )
            self.localities[band, places.origin_locality(trip), destination, trip.how] += 1
            if (
                trip.origin is not None
                and trip.destination is not None
                and places.station_kind[trip.origin] in STATION_KINDS
                and places.station_kind[trip.destination] in STATION_KINDS
            ):
                self.stations[band, trip.origin, trip.destination, trip.how] += 1
            # A transfer links to the trip before it; the day's first tap as a transfer (its
            # first leg the evening before) links to nothing of this day, and is left out.
            if trip.boarding.is_transfer and i > 0:
                before = day[i - 1].boarding
                self.transfer_lines[
                    band,
                    before.service_kind,
                    places.line(before),
                    trip.boarding.service_kind,
                    places.line(trip.boarding),
                ] += 1
                if trip.origin is not None:
                    self.transfer_places[band, trip.origin] += 1

    def locality_rows(self) -> list[tuple[Any, ...]]:
        """(band, origin, destination, how, trips), and the whole day."""
        return _with_whole_day(self.localities)

    def station_rows(self) -> list[tuple[str, int, int, int, int]]:
        """(band, origin, destination, observed, inferred), each band and the whole day."""
        both: dict[tuple[str, int, int], list[int]] = {}
        for (band, origin, destination, how), n in self.stations.items():
            for key in ((band, origin, destination), (WHOLE_DAY, origin, destination)):
                both.setdefault(key, [0, 0])[0 if how == "observed" else 1] += n
        return [(*key, observed, inferred) for key, (observed, inferred) in both.items()]

    def line_rows(self) -> list[tuple[Any, ...]]:
        """(band, from kind, from line, to kind, to line, transfers), and the whole day."""
        return _with_whole_day(self.transfer_lines)

    def place_rows(self) -> list[tuple[Any, ...]]:
        """(band, station, transfers), and the whole day."""
        return _with_whole_day(self.transfer_places)

    def kind_rows(self) -> list[tuple[str, str, str, int]]:
        """(band, from kind, to kind, transfers)."""
        kinds: Counter[tuple[str, str, str]] = Counter()
        for (band, from_kind, _, to_kind, _), n in self.transfer_lines.items():
            kinds[band, from_kind, to_kind] += n
        return [(*key, n) for key, n in kinds.items()]


def _with_whole_day(counts: Counter[Any]) -> list[tuple[Any, ...]]:
    every: Counter[tuple[Any, ...]] = Counter()
    for (band, *key), n in counts.items():
        every[(band, *key)] += n
        every[(WHOLE_DAY, *key)] += n
    return [(*key, n) for key, n in every.items()]
