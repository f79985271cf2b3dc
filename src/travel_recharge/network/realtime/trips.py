"""Runs of the network's trips within a horizon, for GTFS-Realtime TripUpdates. Pure: no I/O.

A route's departures from its first stop are what the arrivals model uses (network.arrivals):
a GTFS-imported route's own departures, or those of its band headways. They are counted as
GTFS counts them, in seconds from the service day's start (noon minus 12 h; a departure past
24:00 belongs to the previous service day), as the GTFS export writes them (network.gtfs).
A run calls at each stop `minutes_from_start` after it leaves. The feed lists, for every run,
its calls expected in [now, now + horizon): so the calls at one stop are exactly that stop's
arrivals up to the horizon. A run with no call in the window is left out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.network.arrivals import service_day_start
from travel_recharge.network.gtfs.reading import format_time
from travel_recharge.network.gtfs.timetable import band_departures, windows_and_singles

# Each route code runs one way (a return is another code): the export gives every trip
# direction 0.
DIRECTION_ID = 0


@dataclass(frozen=True, slots=True)
class Call:
    """A route's call at a stop: the GTFS stop_sequence and stop_id, and its offset."""

    stop_sequence: int
    stop_id: str
    minutes_from_start: int


@dataclass(frozen=True, slots=True)
class Timetable:
    route_id: str  # the GTFS route_id
    departures: Sequence[int]  # seconds from the service day's start, sorted
    singles: frozenset[int]  # departures the export writes as trips of their own
    calls: tuple[Call, ...]  # in running order


def timetable(
    route_id: str,
    headways: Mapping[str, int],
    departures: Sequence[int] | None,
    calls: Iterable[Call],
) -> Timetable:
    runs = sorted(departures) if departures is not None else band_departures(headways)
    # The export's split: runs at a constant gap are one frequency-based trip, the rest
    # trips of their own; a run's trip_id depends on which it is.
    _, singles = windows_and_singles(runs)
    return Timetable(route_id, runs, frozenset(singles), tuple(calls))


@dataclass(frozen=True, slots=True)
class StopTime:
    """Times in POSIX seconds, as GTFS-Realtime carries them (the whole network's feed
    holds some 60,000 of these at a peak hour: no datetime per call)."""

    stop_sequence: int
    stop_id: str
    scheduled_time: int
    predicted_time: int
    predicted: bool  # from real-time data; always False until a vehicle feed exists


@dataclass(frozen=True, slots=True)
class Trip:
    """One run: a departure of a route on a service day."""

    route_id: str
    trip_id: str
    service_day: date
    start: int  # seconds from the service day's start
    leaves: int  # POSIX seconds
    stop_times: tuple[StopTime, ...]

    @property
    def start_date(self) -> str:
        return f"{self.service_day:%Y%m%d}"

    @property
    def start_time(self) -> str:
        """GTFS time: past 24:00 for a run after midnight of its service day."""
        return format_time(self.start)

    @property
    def entity_id(self) -> str:
        """Unique in a feed: one departure per route and minute, e.g. B74-20250310-0604."""
        return f"{self.route_id}-{self.start_date}-{self.start_time[:5].replace(':', '')}"


def trip_id(route_id: str, start: int, singles: frozenset[int]) -> str:
    """The export's trip_id: the route's id for its frequency-based trip, else
    route_id@HH:MM:SS for a departure written as a trip of its own."""
    return f"{route_id}@{format_time(start)}" if start in singles else route_id


def _trips_of(timetable: Timetable, first: int, last: int, zone: ZoneInfo) -> Iterable[Trip]:
    if not timetable.calls:
        return
    # A vehicle that left up to the longest offset ago may still have calls ahead of it.
    earliest = first - max(call.minutes_from_start for call in timetable.calls) * 60
    day = datetime.fromtimestamp(earliest, zone).date() - timedelta(days=1)  # past 24:00
    while day <= datetime.fromtimestamp(last, zone).date():
        day_start = int(service_day_start(day, zone).timestamp())
        runs = timetable.departures
        low = bisect_left(runs, earliest - day_start)
        for start in runs[low : bisect_left(runs, last - day_start)]:
            leaves = day_start + start
            stop_times = tuple(
                StopTime(call.stop_sequence, call.stop_id, at, at, predicted=False)
                for call in timetable.calls
                if first <= (at := leaves + call.minutes_from_start * 60) < last
            )
            if stop_times:
                name = trip_id(timetable.route_id, start, timetable.singles)
                yield Trip(timetable.route_id, name, day, start, leaves, stop_times)
        day += timedelta(days=1)


def trips_within(
    timetables: Iterable[Timetable], now: datetime, horizon: timedelta, zone: ZoneInfo
) -> list[Trip]:
    """Every run with a call in [now, now + horizon), by its first such call, then route.

    `now` is an aware instant on a whole minute (the service passes the start of one).
    Without a vehicle feed each predicted time is the scheduled one and `predicted` is False.
    """
    first, last = int(now.timestamp()), int((now + horizon).timestamp())
    found = [trip for each in timetables for trip in _trips_of(each, first, last, zone)]
    return sorted(
        found, key=lambda trip: (trip.stop_times[0].predicted_time, trip.route_id, trip.leaves)
    )
