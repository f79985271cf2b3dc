"""The feeds encoded as GTFS-Realtime protobuf (gtfs-realtime-bindings). Pure.

Alerts are encoded from their JSON model, trip updates from the same trips their JSON model
is made of (network.realtime.service), so both forms of a feed say the same thing.

Times become POSIX seconds. The alert's one message is its header_text (no language tag:
the feed carries one translation). A stop time update's arrival carries the predicted
`time`, the `delay` from the timetable and the `scheduled_time` (an experimental field of
the specification, which the bindings know).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from google.transit import gtfs_realtime_pb2 as rt

from travel_recharge.network.realtime.schemas import (
    AlertEntityOut,
    AlertsFeedOut,
    FeedHeaderOut,
)
from travel_recharge.network.realtime.trips import DIRECTION_ID, Trip


def _posix(instant: datetime) -> int:
    return int(instant.timestamp())


def _message(header: FeedHeaderOut) -> rt.FeedMessage:
    return rt.FeedMessage(
        header=rt.FeedHeader(
            gtfs_realtime_version=header.gtfs_realtime_version,
            incrementality=header.incrementality,
            timestamp=header.timestamp,
        )
    )


def _alert(alert: AlertEntityOut) -> rt.Alert:
    return rt.Alert(
        cause=alert.cause,
        effect=alert.effect,
        severity_level=alert.severity_level,
        header_text=rt.TranslatedString(
            translation=[rt.TranslatedString.Translation(text=alert.header_text)]
        ),
        active_period=[
            rt.TimeRange(
                start=_posix(period.start),
                end=None if period.end is None else _posix(period.end),
            )
            for period in alert.active_period
        ],
        informed_entity=[
            rt.EntitySelector(route_id=informed.route_id, stop_id=informed.stop_id)
            for informed in alert.informed_entity
        ],
    )


def alerts_protobuf(feed: AlertsFeedOut) -> bytes:
    message = _message(feed.header)
    for alert in feed.entity:
        message.entity.add(id=alert.id, alert=_alert(alert))
    return message.SerializeToString()


def _trip_update(trip: Trip) -> rt.TripUpdate:
    return rt.TripUpdate(
        trip=rt.TripDescriptor(
            trip_id=trip.trip_id,
            route_id=trip.route_id,
            direction_id=DIRECTION_ID,
            start_date=trip.start_date,
            start_time=trip.start_time,
            schedule_relationship="SCHEDULED",
        ),
        stop_time_update=[
            rt.TripUpdate.StopTimeUpdate(
                stop_sequence=call.stop_sequence,
                stop_id=call.stop_id,
                schedule_relationship="SCHEDULED",
                arrival=rt.TripUpdate.StopTimeEvent(
                    time=call.predicted_time,
                    delay=call.predicted_time - call.scheduled_time,
                    scheduled_time=call.scheduled_time,
                ),
            )
            for call in trip.stop_times
        ],
    )


def trip_updates_protobuf(header: FeedHeaderOut, trips: Iterable[Trip]) -> bytes:
    """Straight from the trips, without the JSON models: the network's feed is large."""
    message = _message(header)
    for trip in trips:
        message.entity.add(id=trip.entity_id, trip_update=_trip_update(trip))
    return message.SerializeToString()
