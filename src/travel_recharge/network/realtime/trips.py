"""Trips of the headway timetable within a horizon, for GTFS-Realtime TripUpdates. Pure: no I/O.

A trip is one departure of a route from its first stop (network.arrivals.departures); it calls
at each stop `minutes_from_start` later. The feed lists, for every trip, its calls expected in
[now, now + horizon): so the calls at one stop are exactly that stop's arrivals (the
arrivals model) up to the horizon. A trip with no call in the window is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.network.arrivals import MINUTE, departures

# Each route code runs one way (a return is another code): every trip has direction 0.
DIRECTION_ID = 0


@dataclass(frozen=True, slots=True)
class Call:
    """A route's call at a stop: the GTFS stop_sequence and stop_id, and its offset."""

    stop_sequence: int
    stop_id: str
    minutes_from_start: int


@dataclass(frozen=True, slots=True)
class Timetable:
    route_id: str
    headways: Mapping[str, int]
    calls: tuple[Call, ...]  # in running order


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
    route_id: str
    departure: datetime  # from the first stop; aware, in the city's zone
    stop_times: tuple[StopTime, ...]

    @property
    def trip_id(self) -> str:
        """The GTFS export describes a route's headway runs as one frequency-based trip
        (frequencies.txt, exact_times 1) whose trip_id is the route's id; a run of it is
        that trip_id with a start date and time."""
        return self.route_id

    @property
    def start_date(self) -> str:
        return f"{self.departure:%Y%m%d}"

    @property
    def start_time(self) -> str:
        # Departures fall inside their service day's bands (04:00-23:00): never past 24:00.
        return f"{self.departure:%H:%M:%S}"

    @property
    def entity_id(self) -> str:
        """Unique in a feed: one departure per route and minute."""
        return f"{self.route_id}-{self.departure:%Y%m%d-%H%M}"


def _trips_of(
    timetable: Timetable, now: datetime, until: datetime, zone: ZoneInfo
) -> Iterable[Trip]:
    if not timetable.calls:
        return
    # A vehicle that left up to the longest offset ago may still have calls ahead of it.
    longest = max(call.minutes_from_start for call in timetable.calls) * MINUTE
    earliest = now - longest
    first, last = int(now.timestamp()), int(until.timestamp())
    day = earliest.astimezone(zone).date()
    while day <= until.astimezone(zone).date():
        for departure in departures(day, timetable.headways, zone, earliest):
            if departure >= until:
                break
            leaves = int(departure.timestamp())
            stop_times = tuple(
                StopTime(call.stop_sequence, call.stop_id, at, at, predicted=False)
                for call in timetable.calls
                if first <= (at := leaves + call.minutes_from_start * 60) < last
            )
            if stop_times:
                yield Trip(timetable.route_id, departure.astimezone(zone), stop_times)
        day += timedelta(days=1)


def trips_within(
    timetables: Iterable[Timetable], now: datetime, horizon: timedelta, zone: ZoneInfo
) -> list[Trip]:
    """Every trip with a call in [now, now + horizon), by its first such call, then route.

    `now` is an aware instant on a whole minute (the service passes the start of one).
    Without a vehicle feed each predicted time is the scheduled one and `predicted` is False.
    """
    until = now + horizon
    found = [trip for timetable in timetables for trip in _trips_of(timetable, now, until, zone)]
    return sorted(
        found,
        key=lambda trip: (trip.stop_times[0].predicted_time, trip.route_id, trip.departure),
    )
