"""The GTFS-Realtime feeds: alerts from the alert store, trip updates from the timetable.

Alerts come from the alert service's feed view (invalidated by every alert write) and are
shaped per request, so an alert appears and disappears at the exact second of its period.
Trip updates are computed for a minute, like arrivals, and cached as the finished bytes of
each format in that minute's arrivals group ("gtfs-rt:<format>:<route>:<stop>"); only
minutes around the present are cached (as for arrivals).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.views import Reads
from travel_recharge.network import repository
from travel_recharge.network.alerts import service as alerts
from travel_recharge.network.alerts.service import FeedAlert
from travel_recharge.network.arrivals import minute_of
from travel_recharge.network.errors import RouteNotFound, StationNotFound
from travel_recharge.network.realtime.feed import alerts_protobuf, trip_updates_protobuf
from travel_recharge.network.realtime.schemas import (
    AlertEntityOut,
    AlertsFeedOut,
    EntitySelectorOut,
    FeedFormat,
    FeedHeaderOut,
    SeverityLevel,
    StopTimeUpdateOut,
    TimeRangeOut,
    TripDescriptorOut,
    TripUpdateEntityOut,
    TripUpdatesFeedOut,
)
from travel_recharge.network.realtime.trips import (
    DIRECTION_ID,
    Call,
    Timetable,
    Trip,
    timetable,
    trips_within,
)
from travel_recharge.network.service import arrivals_group

SEVERITY_LEVELS: dict[str, SeverityLevel] = {
    "info": "INFO",
    "warning": "WARNING",
    "severe": "SEVERE",
}


def _header(instant: datetime) -> FeedHeaderOut:
    return FeedHeaderOut(timestamp=int(instant.timestamp()))


def _alert_entity(informed: FeedAlert, now: datetime) -> AlertEntityOut:
    alert = informed.alert
    return AlertEntityOut(
        id=f"alert-{alert.alert_id}",
        alert_id=alert.alert_id,
        active=alert.active_from <= now,  # not ended nor resolved: alerts_not_over
        cause=alert.cause,
        effect=alert.effect,
        severity_level=SEVERITY_LEVELS[alert.severity],
        header_text=alert.message,
        active_period=[TimeRangeOut(start=alert.active_from, end=alert.active_until)],
        # One selector: with both ids it means that route at that station only.
        informed_entity=[EntitySelectorOut(route_id=informed.route_id, stop_id=informed.stop_id)],
    )


async def alerts_feed(reads: Reads, *, now: datetime, feed_format: FeedFormat) -> bytes:
    """Every alert neither resolved nor ended at `now`, future ones included, newest first."""
    records = await alerts.alerts_not_over(reads, now)
    feed = AlertsFeedOut(
        header=_header(now), entity=[_alert_entity(record, now) for record in records]
    )
    return feed.model_dump_json().encode() if feed_format == "json" else alerts_protobuf(feed)


def _timetables(
    rows: Sequence[tuple[str, dict[str, int], list[int] | None, int, str, int]],
) -> list[Timetable]:
    calls: dict[str, list[Call]] = {}
    runs: dict[str, tuple[dict[str, int], list[int] | None]] = {}
    for route_id, headways, departures, sequence, stop_id, minutes in rows:
        runs[route_id] = (headways, departures)
        calls.setdefault(route_id, []).append(Call(sequence, stop_id, minutes))
    return [timetable(route_id, *runs[route_id], calls[route_id]) for route_id in calls]


def _trip_entity(trip: Trip, zone: ZoneInfo) -> TripUpdateEntityOut:
    return TripUpdateEntityOut(
        id=trip.entity_id,
        trip=TripDescriptorOut(
            trip_id=trip.trip_id,
            route_id=trip.route_id,
            direction_id=DIRECTION_ID,
            start_date=trip.start_date,
            start_time=trip.start_time,
        ),
        stop_time_update=[
            StopTimeUpdateOut(
                stop_sequence=call.stop_sequence,
                stop_id=call.stop_id,
                scheduled_time=datetime.fromtimestamp(call.scheduled_time, zone),
                predicted_time=datetime.fromtimestamp(call.predicted_time, zone),
                delay=call.predicted_time - call.scheduled_time,
                predicted=call.predicted,
            )
            for call in trip.stop_times
        ],
    )


def _trip_updates(
    timetables: list[Timetable],
    minute: datetime,
    horizon: int,
    zone: ZoneInfo,
    feed_format: FeedFormat,
) -> bytes:
    trips = trips_within(timetables, minute, timedelta(minutes=horizon), zone)
    header = _header(minute)
    if feed_format == "protobuf":
        return trip_updates_protobuf(header, trips)
    feed = TripUpdatesFeedOut(
        header=header,
        at=minute.astimezone(zone),
        horizon_minutes=horizon,
        entity=[_trip_entity(trip, zone) for trip in trips],
    )
    return feed.model_dump_json().encode()


async def trip_updates_feed(
    reads: Reads,
    *,
    at: datetime,
    now: datetime,
    route_id: str | None,
    stop_id: str | None,
    feed_format: FeedFormat,
) -> bytes:
    """Trips with calls expected within the horizon after the minute holding `at`.

    `route_id` keeps that route's trips; `stop_id` keeps only the calls at that stop (a
    trip without one is left out). An unknown route or stop is a 404.
    """
    minute = minute_of(at)
    zone = ZoneInfo(reads.settings.timezone)
    horizon = reads.settings.gtfs_rt_horizon_minutes

    async def load(session: ReadSession) -> list[Timetable]:
        if stop_id is not None and not await repository.has_gtfs_stop(session, stop_id):
            raise StationNotFound(stop_id)
        if route_id is not None and not await repository.has_gtfs_route(session, route_id):
            raise RouteNotFound(route_id)
        rows = await repository.timetable_calls(session, route_id=route_id, stop_id=stop_id)
        return _timetables(rows)

    async def produce() -> bytes:
        timetables = await reads.uncached(load)  # the session is back in the pool after this
        # The whole network's feed takes a second or two of CPU at a peak hour (60,000
        # calls): built in a thread, so this worker's event loop keeps serving meanwhile.
        return await asyncio.to_thread(
            _trip_updates, timetables, minute, horizon, zone, feed_format
        )

    ttl = reads.settings.cache_ttl_arrivals_s
    if abs(minute - minute_of(now)) > timedelta(seconds=ttl):
        return await produce()
    field = f"gtfs-rt:{feed_format}:{route_id or '*'}:{stop_id or '*'}"
    return await reads.cache.read_through(
        arrivals_group(minute), field, ttl, produce, stale_ok=True
    )
