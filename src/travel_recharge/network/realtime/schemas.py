"""The GTFS-Realtime feeds as JSON for people, and their query parameters.

Each model mirrors its GTFS-Realtime message (field names from gtfs-realtime.proto), with
times as ISO 8601 instead of POSIX seconds; network.realtime.feed encodes the same model as
protobuf, so both forms always say the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from travel_recharge.network.schemas import Cause, Effect

FeedFormat = Literal["protobuf", "json"]
SeverityLevel = Literal["INFO", "WARNING", "SEVERE"]

FormatQuery = Annotated[
    FeedFormat,
    Query(
        alias="format",
        description="protobuf (application/x-protobuf, for machines) or json (for people)",
    ),
]
# GTFS ids: a station's code or a route's code, or the id of the feed they were imported from.
GtfsId = Annotated[str, Field(min_length=1, max_length=255)]
StopIdQuery = Annotated[
    GtfsId | None,
    Query(description="only calls at this stop: its GTFS stop_id (the station code, e.g. 02000)"),
]
RouteIdQuery = Annotated[
    GtfsId | None,
    Query(description="only this route's trips: its GTFS route_id (the route code, e.g. B74)"),
]


class FeedHeaderOut(BaseModel):
    gtfs_realtime_version: Literal["2.0"] = "2.0"
    incrementality: Literal["FULL_DATASET"] = "FULL_DATASET"
    timestamp: int = Field(description="when the content was computed, POSIX seconds")


class TimeRangeOut(BaseModel):
    start: datetime
    end: datetime | None = Field(description="exclusive; null: until resolved")


class EntitySelectorOut(BaseModel):
    """Both ids set: that route at that stop only (GTFS-Realtime's meaning, and ours)."""

    route_id: str | None = Field(description="the route code")
    stop_id: str | None = Field(description="the station code")


class AlertEntityOut(BaseModel):
    id: str = Field(description="the feed entity's id: 'alert-' and the alert's id")
    alert_id: int
    active: bool = Field(description="in force now; false: it starts later")
    cause: Cause
    effect: Effect
    severity_level: SeverityLevel
    header_text: str
    active_period: list[TimeRangeOut]
    informed_entity: list[EntitySelectorOut]


class AlertsFeedOut(BaseModel):
    header: FeedHeaderOut
    entity: list[AlertEntityOut] = Field(description="not resolved and not ended; newest first")


class TripDescriptorOut(BaseModel):
    """A run of a frequency-based trip: its trip_id with the start date and time."""

    trip_id: str = Field(description="the GTFS export's frequency-based trip: the route code")
    route_id: str
    direction_id: int = Field(description="0: each route code runs in one direction")
    start_date: str = Field(description="the service day, YYYYMMDD")
    start_time: str = Field(description="departure from the first stop, HH:MM:SS local time")
    schedule_relationship: Literal["SCHEDULED"] = "SCHEDULED"


class StopTimeUpdateOut(BaseModel):
    stop_sequence: int
    stop_id: str = Field(description="the station code")
    scheduled_time: datetime = Field(description="from the timetable, in the city's local time")
    predicted_time: datetime = Field(description="the arrival's `time`; equals scheduled for now")
    delay: int = Field(description="predicted minus scheduled, seconds")
    predicted: bool = Field(
        description="true when predicted_time comes from real-time data; false: schedule only"
    )


class TripUpdateEntityOut(BaseModel):
    id: str = Field(description="route, start date and start time: 'B74-20250310-0600'")
    trip: TripDescriptorOut
    stop_time_update: list[StopTimeUpdateOut] = Field(description="calls within the horizon")


class TripUpdatesFeedOut(BaseModel):
    header: FeedHeaderOut
    at: datetime = Field(description="the minute the feed is computed for (local time)")
    horizon_minutes: int = Field(description="calls expected before at + this are listed")
    entity: list[TripUpdateEntityOut] = Field(description="by their first listed call")
