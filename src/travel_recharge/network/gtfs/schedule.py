"""agency, routes, calendar, trips, stop_times and frequencies: who runs what, when.

stop_times.txt is the big file (millions of rows for a city like Bogotá): each trip's calls
are kept in four compact integer arrays, not as row objects, and the file is read once.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from travel_recharge.network.gtfs.errors import Problems
from travel_recharge.network.gtfs.kinds import known_route_type, route_kind
from travel_recharge.network.gtfs.reading import FeedArchive, parse_date, parse_time
from travel_recharge.network.gtfs.stops import FeedStops

ROUTE_NAME_MAX = 160  # routes.name
ROUTE_CODE_MAX = 20  # routes.code
NO_TIME = -1
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class FeedRoute:
    gtfs_id: str
    short_name: str
    name: str
    kind: str
    line: int


@dataclass(slots=True)
class Calls:
    """A trip's stop_times, in file order until sorted by stop_sequence."""

    sequences: array[int] = field(default_factory=lambda: array("i"))
    stops: array[int] = field(default_factory=lambda: array("i"))  # index into stop ids
    arrivals: array[int] = field(default_factory=lambda: array("i"))  # NO_TIME when blank
    departures: array[int] = field(default_factory=lambda: array("i"))


@dataclass(frozen=True, slots=True)
class FeedTrip:
    trip_id: str
    route_id: str
    service_id: str
    direction: str
    line: int


def read_agencies(feed: FeedArchive, problems: Problems) -> set[str]:
    agencies: set[str] = set()
    required = ("agency_name", "agency_url", "agency_timezone")
    for row in feed.rows("agency.txt", required, problems):
        for column in required:
            if not row[column]:
                problems.add(row.file, row.line, f"{column} is empty")
        agencies.add(row["agency_id"])
    if not agencies:
        problems.add("agency.txt", None, "has no agency")
    return agencies


def read_routes(feed: FeedArchive, agencies: set[str], problems: Problems) -> dict[str, FeedRoute]:
    routes: dict[str, FeedRoute] = {}
    for row in feed.rows("routes.txt", ("route_id", "route_type"), problems):
        route_id, short, long = row["route_id"], row["route_short_name"], row["route_long_name"]
        if not route_id:
            problems.add(row.file, row.line, "route_id is empty")
            continue
        if route_id in routes:
            problems.add(row.file, row.line, f"route_id {route_id!r} appears twice")
        agency = row["agency_id"]
        if (agency or len(agencies) > 1) and agency not in agencies:
            problems.add(row.file, row.line, f"agency_id {agency!r} is not in agency.txt")
        if not short and not long:
            problems.add(row.file, row.line, "route_short_name and route_long_name are empty")
        name = long or short
        if len(name) > ROUTE_NAME_MAX:
            problems.add(row.file, row.line, f"route name longer than {ROUTE_NAME_MAX} characters")
        try:
            route_type = int(row["route_type"])
        except ValueError:
            route_type = -1
        if not known_route_type(route_type):
            problems.add(row.file, row.line, f"route_type {row['route_type']!r} is not a GTFS type")
        routes[route_id] = FeedRoute(route_id, short, name, route_kind(route_type), row.line)
    return routes


def read_services(feed: FeedArchive, problems: Problems) -> tuple[set[str], set[str]]:
    """Every service_id, and those that run on Mondays (the typical weekday we import)."""
    services: set[str] = set()
    weekday: set[str] = set()
    if feed.has("calendar.txt"):
        required = ("service_id", *WEEKDAYS, "start_date", "end_date")
        for row in feed.rows("calendar.txt", required, problems):
            services.add(row["service_id"])
            for day in WEEKDAYS:
                if row[day] not in {"0", "1"}:
                    problems.add(row.file, row.line, f"{day} is {row[day]!r}, not 0 or 1")
            start, end = parse_date(row["start_date"]), parse_date(row["end_date"])
            if start is None or end is None:
                problems.add(row.file, row.line, "start_date and end_date must be YYYYMMDD")
            elif end < start:
                problems.add(row.file, row.line, "end_date is before start_date")
            if row["monday"] == "1":
                weekday.add(row["service_id"])
    if feed.has("calendar_dates.txt"):
        dated = ("service_id", "date", "exception_type")
        for row in feed.rows("calendar_dates.txt", dated, problems):
            services.add(row["service_id"])
            if parse_date(row["date"]) is None:
                problems.add(row.file, row.line, f"date {row['date']!r} is not YYYYMMDD")
            if row["exception_type"] not in {"1", "2"}:
                problems.add(row.file, row.line, "exception_type must be 1 or 2")
    return services, weekday


@dataclass(frozen=True, slots=True)
class Trips:
    checked: dict[str, FeedTrip]
    # Every trip_id of trips.txt: the rows of a trip refused there are not reported again.
    named: set[str]

    def knows(self, trip_id: str, file: str, line: int, problems: Problems) -> bool:
        if trip_id not in self.named:
            problems.add(file, line, f"trip_id {trip_id!r} is not in trips.txt")
        return trip_id in self.checked


def read_trips(
    feed: FeedArchive, routes: dict[str, FeedRoute], services: set[str], problems: Problems
) -> Trips:
    trips: dict[str, FeedTrip] = {}
    named: set[str] = set()
    for row in feed.rows("trips.txt", ("route_id", "service_id", "trip_id"), problems):
        trip_id = row["trip_id"]
        if not trip_id or trip_id in named:
            problems.add(row.file, row.line, f"trip_id {trip_id!r} is empty or appears twice")
            continue
        named.add(trip_id)
        if row["route_id"] not in routes:
            problems.add(row.file, row.line, f"route_id {row['route_id']!r} is not in routes.txt")
            continue
        if row["service_id"] not in services:
            problems.add(
                row.file,
                row.line,
                f"service_id {row['service_id']!r} is in neither calendar.txt"
                " nor calendar_dates.txt",
            )
            continue
        trips[trip_id] = FeedTrip(
            trip_id, row["route_id"], row["service_id"], row["direction_id"], row.line
        )
    return Trips(trips, named)


def read_stop_times(
    feed: FeedArchive,
    trips: Trips,
    stops: FeedStops,
    stop_index: dict[str, int],
    problems: Problems,
) -> dict[str, Calls]:
    calls: dict[str, Calls] = {}
    file = "stop_times.txt"
    required = ("trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time")
    for row in feed.rows(file, required, problems):
        trip_id, stop_id = row["trip_id"], row["stop_id"]
        if not trips.knows(trip_id, file, row.line, problems):
            continue
        index = stop_index.get(stop_id)
        if index is None or stop_id not in stops.station_of_stop:
            problems.add(file, row.line, f"stop_id {stop_id!r} is not a stop in stops.txt")
            continue
        try:
            sequence = int(row["stop_sequence"])
        except ValueError:
            sequence = -1
        if sequence < 0:
            problems.add(file, row.line, f"stop_sequence {row['stop_sequence']!r} is not >= 0")
            continue
        times = []
        for column in ("arrival_time", "departure_time"):
            text = row[column]
            seconds = parse_time(text) if text else NO_TIME
            if seconds is None:
                problems.add(file, row.line, f"{column} {text!r} is not H:MM:SS")
                seconds = NO_TIME
            times.append(seconds)
        trip = calls.get(trip_id)
        if trip is None:
            trip = calls[trip_id] = Calls()
        trip.sequences.append(sequence)
        trip.stops.append(index)
        trip.arrivals.append(times[0])
        trip.departures.append(times[1])
    return calls


@dataclass(frozen=True, slots=True)
class Frequency:
    start: int
    end: int
    headway: int


def read_frequencies(
    feed: FeedArchive, trips: Trips, problems: Problems
) -> dict[str, list[Frequency]]:
    windows: dict[str, list[Frequency]] = {}
    if not feed.has("frequencies.txt"):
        return windows
    required = ("trip_id", "start_time", "end_time", "headway_secs")
    for row in feed.rows("frequencies.txt", required, problems):
        if not trips.knows(row["trip_id"], row.file, row.line, problems):
            continue
        start, end = parse_time(row["start_time"]), parse_time(row["end_time"])
        headway = int(row["headway_secs"]) if row["headway_secs"].isdigit() else 0
        if start is None or end is None:
            problems.add(row.file, row.line, "start_time and end_time must be H:MM:SS")
        elif end <= start:
            problems.add(row.file, row.line, "end_time is not after start_time")
        elif headway <= 0:
            problems.add(row.file, row.line, "headway_secs must be a positive whole number")
        else:
            windows.setdefault(row["trip_id"], []).append(Frequency(start, end, headway))
    return windows
