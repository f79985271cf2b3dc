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
    stop_sequence: int
    stop_id: str
    scheduled_time: datetime  # aware, in the city's zone
    predicted_time: datetime
    predicted: bool  # from real-time data; always False until a vehicle feed exists


@dataclass(frozen=True, slots=True)
class Trip:
    route_id: str
    departure: datetime  # from the first stop; aware, in the city's zone
    stop_times: tuple[StopTime, ...]


def _stop_time(call: Call, instant: datetime, zone: ZoneInfo) -> StopTime:
    local = instant.astimezone(zone)
    return StopTime(call.stop_sequence, call.stop_id, local, local, predicted=False)


def _trips_of(
    timetable: Timetable, now: datetime, until: datetime, zone: ZoneInfo
) -> Iterable[Trip]:
    if not timetable.calls:
        return
    # A vehicle that left up to the longest offset ago may still have calls ahead of it.
    longest = max(call.minutes_from_start for call in timetable.calls) * MINUTE
    earliest = now - longest
    day = earliest.astimezone(zone).date()
    last_day = until.astimezone(zone).date()
    while day <= last_day:
        for departure in departures(day, timetable.headways, zone, earliest):
            if departure >= until:
                break
            stop_times = tuple(
                _stop_time(call, instant, zone)
                for call in timetable.calls
                if now <= (instant := departure + call.minutes_from_start * MINUTE) < until
            )
            if stop_times:
                yield Trip(timetable.route_id, departure.astimezone(zone), stop_times)
        day += timedelta(days=1)


def trips_within(
    timetables: Iterable[Timetable], now: datetime, horizon: timedelta, zone: ZoneInfo
) -> list[Trip]:
    """Every trip with a call in [now, now + horizon), by its first such call, then route.

    `now` is an aware instant (the service passes the start of a minute). Without a vehicle
    feed each predicted time is the scheduled one and `predicted` is False.
    """
    until = now + horizon
    found = [trip for timetable in timetables for trip in _trips_of(timetable, now, until, zone)]
    # Sorted on UTC instants: aware datetimes sharing a ZoneInfo compare by wall clock.
    return sorted(
        found,
        key=lambda trip: (
            trip.stop_times[0].predicted_time.timestamp(),
            trip.route_id,
            trip.departure.timestamp(),
        ),
    )
