"""Scheduled arrivals at a station from route timetables. Pure: no I/O.

A route imported from a GTFS feed has its departures from the first stop (seconds after the
service day's start, as GTFS counts: from noon minus 12 h, past 24:00 after midnight); its
vehicles leave then, every day, and reach a stop `minutes_from_start` later. Any other route
runs by headways per time band: its vehicles leave its first stop every `headway` minutes,
counted from the start of each time band the route has a headway for (network.reference.BANDS,
04:00-23:00 local; no departures overnight), and reach a stop `minutes_from_start` later. A
vehicle that left at 22:50 can still arrive after 23:00, or after midnight on a long route.

Bands are wall-clock times in the city's zone; the arithmetic is done on UTC instants, so a
city with daylight saving time would still count real minutes between departures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.network.reference import BANDS

MINUTE = timedelta(minutes=1)
# Service days searched after the one of the earliest useful departure: the rest of today
# and all of tomorrow, enough for the next few vehicles of any route that runs daily.
SEARCH_DAYS = 2


@dataclass(frozen=True, slots=True)
class Visit:
    """One call of a route at the station (a circular route calls at its terminus twice)."""

    route_code: str
    route_name: str
    destination: str
    headways: Mapping[str, int]
    minutes_from_start: int
    departures: Sequence[int] | None = None  # sorted; None: run by headways


@dataclass(frozen=True, slots=True)
class Arrival:
    """Named as the API names it (ArrivalOut), so the answer is built from it directly."""

    route_code: str
    route_name: str
    destination: str
    scheduled_time: datetime  # aware, in the city's zone
    predicted_time: datetime
    minutes_away: int
    predicted: bool  # from real-time data; always False until a vehicle feed exists


def minute_of(instant: datetime) -> datetime:
    """The start of the minute holding `instant`, in UTC.

    Arrivals are computed for the start of the minute, so every request within one minute
    gets the same answer and that answer can be cached per (station, minute).
    """
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def departures(
    day: date, headways: Mapping[str, int], zone: ZoneInfo, not_before: datetime
) -> Iterator[datetime]:
    """The departures from the first stop on one service day at or after `not_before` (UTC)."""
    for band in BANDS:
        headway = headways.get(band.name)
        if headway is None or headway <= 0:  # no headway: the route does not run in this band
            continue
        step = headway * MINUTE
        start = datetime.combine(day, band.start, zone).astimezone(UTC)
        end = datetime.combine(day, band.end, zone).astimezone(UTC)
        # Skip straight to the first departure at or after not_before (a ceiling division).
        skipped = max(0, -((start - not_before) // step))
        departure = start + skipped * step
        while departure < end:
            yield departure
            departure += step


def service_day_start(day: date, zone: ZoneInfo) -> datetime:
    """GTFS time zero of a service day: noon minus 12 h (midnight but on DST change days)."""
    return datetime.combine(day, time(12), zone).astimezone(UTC) - timedelta(hours=12)


def _timetable_times(
    departures: Sequence[int], offset: timedelta, not_before: datetime, zone: ZoneInfo, count: int
) -> list[datetime]:
    # A departure after 24:00 belongs to the previous service day: start the search there.
    first_day = not_before.astimezone(zone).date() - timedelta(days=1)
    found: list[datetime] = []
    for days in range(SEARCH_DAYS + 1):
        start = service_day_start(first_day + timedelta(days=days), zone)
        found += (
            instant
            for seconds in departures
            if (instant := start + timedelta(seconds=seconds)) >= not_before
        )
    return [instant + offset for instant in sorted(found)[:count]]


def _arrival_times(visit: Visit, now: datetime, zone: ZoneInfo, count: int) -> list[datetime]:
    offset = visit.minutes_from_start * MINUTE
    earliest_departure = now - offset
    if visit.departures is not None:
        return _timetable_times(visit.departures, offset, earliest_departure, zone, count)
    first_day = earliest_departure.astimezone(zone).date()
    found: list[datetime] = []
    for days in range(SEARCH_DAYS):
        day = first_day + timedelta(days=days)
        for departure in departures(day, visit.headways, zone, earliest_departure):
            found.append(departure + offset)
            if len(found) == count:
                return found
    return found


def next_arrivals(
    visits: Iterable[Visit], now: datetime, zone: ZoneInfo, per_route: int
) -> list[Arrival]:
    """The next `per_route` arrivals of each route at or after `now`, soonest first.

    `now` is an aware instant (the service passes minute_of(at)). A route calling twice at the
    station contributes its soonest `per_route` arrivals over both calls. Without a vehicle
    feed the predicted time is the scheduled time and `predicted` is False.
    """
    by_route: dict[str, dict[datetime, Visit]] = {}
    for visit in visits:
        calls = by_route.setdefault(visit.route_code, {})
        for instant in _arrival_times(visit, now, zone, per_route):
            # Two calls of a circular route in the same minute show once.
            calls.setdefault(instant, visit)
    # Sorted on UTC instants: aware datetimes sharing a ZoneInfo compare by wall clock.
    chosen = sorted(
        (instant, code, calls[instant])
        for code, calls in by_route.items()
        for instant in sorted(calls)[:per_route]
    )
    return [
        Arrival(
            route_code=visit.route_code,
            route_name=visit.route_name,
            destination=visit.destination,
            scheduled_time=instant.astimezone(zone),
            predicted_time=instant.astimezone(zone),
            minutes_away=(instant - now) // MINUTE,
            predicted=False,
        )
        for instant, _, visit in chosen
    ]
