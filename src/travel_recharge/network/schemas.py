"""Network requests and answers: stations, routes, arrivals, alerts, recharge points."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
)

from travel_recharge.kit.ids import MAX_INT_ID
from travel_recharge.kit.pagination import PageInfo
from travel_recharge.kit.wire_formats import Instant, LocalTime

STATION_CODE_PATTERN = r"^[0-9]{5}$"
ROUTE_CODE_PATTERN = r"^[A-Za-z0-9-]{1,20}$"  # routes.code is VARCHAR(20): "B74", "18-3", "TC1"
LOCALITY_CODE_PATTERN = r"^[0-9]{2}$"
MAX_ALERT_MESSAGE = 1000
MAX_ARRIVALS_PER_ROUTE = 10


def _without_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


AlertMessage = Annotated[
    str, Field(min_length=1, max_length=MAX_ALERT_MESSAGE), AfterValidator(_without_nul)
]

StationKind = Literal["portal", "trunk", "cable", "zonal"]
RouteKind = Literal["trunk", "zonal", "feeder", "cable"]
Channel = Literal["counter", "kiosk", "web"]
Severity = Literal["info", "warning", "severe"]
# GTFS-Realtime Alert.Cause and Alert.Effect, so alerts export to a GTFS-RT feed as they are.
Cause = Literal[
    "UNKNOWN_CAUSE",
    "OTHER_CAUSE",
    "TECHNICAL_PROBLEM",
    "STRIKE",
    "DEMONSTRATION",
    "ACCIDENT",
    "HOLIDAY",
    "WEATHER",
    "MAINTENANCE",
    "CONSTRUCTION",
    "POLICE_ACTIVITY",
    "MEDICAL_EMERGENCY",
]
Effect = Literal[
    "NO_SERVICE",
    "REDUCED_SERVICE",
    "SIGNIFICANT_DELAYS",
    "DETOUR",
    "ADDITIONAL_SERVICE",
    "MODIFIED_SERVICE",
    "OTHER_EFFECT",
    "UNKNOWN_EFFECT",
    "STOP_MOVED",
    "NO_EFFECT",
    "ACCESSIBILITY_ISSUE",
]

StationId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="the station's numeric id")]
StationCode = Annotated[
    str, Path(pattern=STATION_CODE_PATTERN, description="5-digit station code, e.g. 02000")
]
RouteCode = Annotated[str, Path(pattern=ROUTE_CODE_PATTERN, description="e.g. B74 or 18-3")]
AlertId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="the alert's id")]
LocalityFilter = Annotated[
    str | None, Query(pattern=LOCALITY_CODE_PATTERN, description="2-digit locality code")
]
StationKindFilter = Annotated[StationKind | None, Query()]
ActiveFilter = Annotated[bool | None, Query(description="only active (true) or closed (false)")]
ChannelFilter = Annotated[Channel | None, Query()]
AtQuery = Annotated[
    Instant | None,
    Query(description="the moment to compute for, ISO 8601 with a UTC offset; default now"),
]
PerRouteQuery = Annotated[
    int, Query(ge=1, le=MAX_ARRIVALS_PER_ROUTE, description="arrivals listed per route")
]
ActiveOnlyQuery = Annotated[
    bool, Query(description="only alerts in force now (not resolved, inside their period)")
]


class StationOut(BaseModel):
    station_id: int
    code: str
    name: str
    kind: StationKind
    corridor: str | None = Field(description="trunk corridor letter (A-M); null for zonal stops")
    locality_code: str
    locality_name: str
    latitude: float
    longitude: float
    active: bool


class StationsPage(BaseModel):
    stations: list[StationOut] = Field(description="ordered by code")
    total: int = Field(description="stations matching the filters, on every page")
    page: PageInfo


class StationIdentifier(BaseModel):
    code: str
    name: str


class StationIdentifiersOut(BaseModel):
    stations: list[StationIdentifier] = Field(description="every station, ordered by code")


class RouteServing(BaseModel):
    route_code: str
    name: str
    kind: RouteKind


class StationDetailsOut(StationOut):
    routes_serving: list[RouteServing] = Field(description="active routes stopping here, by code")


class RouteCodesOut(BaseModel):
    route_codes: list[str] = Field(description="every route code, sorted")


class HeadwayOut(BaseModel):
    band: str
    start: LocalTime = Field(description="local time the band starts")
    end: LocalTime = Field(description="local time the band ends (exclusive)")
    headway_minutes: int


class RouteStopOut(BaseModel):
    sequence: int
    station_id: int
    station_code: str
    name: str
    minutes_from_start: int


class RouteDetailsOut(BaseModel):
    route_id: int
    code: str
    name: str
    kind: RouteKind
    active: bool
    headways: list[HeadwayOut] = Field(description="bands the route runs in; absent: no service")
    stops: list[RouteStopOut] = Field(description="in running order")


class ArrivalOut(BaseModel):
    route_code: str
    route_name: str
    destination: str = Field(description="the route's last stop")
    scheduled_time: datetime = Field(description="from the timetable, in the city's local time")
    predicted_time: datetime = Field(description="expected time; equals scheduled_time for now")
    minutes_away: int = Field(description="whole minutes from `at` to the predicted time")
    predicted: bool = Field(
        description="true when predicted_time comes from real-time data (GTFS-Realtime "
        "TripUpdates); false: schedule only, as there is no vehicle feed yet"
    )


class ArrivalsOut(BaseModel):
    station_id: int
    station_code: str
    station_name: str
    at: datetime = Field(description="the minute the arrivals are computed for (local time)")
    arrivals: list[ArrivalOut] = Field(description="soonest first")


class RechargePointOut(BaseModel):
    recharge_point_id: int
    name: str
    channel: Channel
    locality_code: str | None = Field(description="null for the web channel")
    locality_name: str | None


class RechargePointsPage(BaseModel):
    recharge_points: list[RechargePointOut] = Field(description="active points, by id")
    total: int
    page: PageInfo


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    station_id: StrictInt | None = Field(default=None, ge=1, le=MAX_INT_ID)
    route_code: str | None = Field(default=None, pattern=ROUTE_CODE_PATTERN)
    severity: Severity
    cause: Cause
    effect: Effect
    message: AlertMessage
    active_from: Instant | None = Field(default=None, description="default: now")
    active_until: Instant | None = Field(default=None, description="null: until resolved")


def _omitted_not_null(schema: dict[str, Any]) -> None:
    """Document an optional field as its type alone: it may be left out, never sent as null.

    (Typed `X | None` all the same, so a refusal names the field, not a union member.)"""
    options = schema.pop("anyOf", [])
    schema.pop("default", None)
    schema.update(*[option for option in options if option != {"type": "null"}])


class AlertUpdate(BaseModel):
    """A partial update: only the fields sent change; active_until may be set to null."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message: AlertMessage | None = Field(default=None, json_schema_extra=_omitted_not_null)
    severity: Severity | None = Field(default=None, json_schema_extra=_omitted_not_null)
    cause: Cause | None = Field(default=None, json_schema_extra=_omitted_not_null)
    effect: Effect | None = Field(default=None, json_schema_extra=_omitted_not_null)
    active_until: Instant | None = None

    @field_validator("message", "severity", "cause", "effect", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitting a field keeps it; an explicit null would erase a required value.
        if value is None:
            raise ValueError("may not be null")
        return value


class AlertRecord(BaseModel):
    """An alert as stored (and cached): what it says, where, and when it applies."""

    alert_id: int
    station_id: int | None
    station_code: str | None
    route_code: str | None
    severity: Severity
    cause: Cause
    effect: Effect
    message: str
    active_from: datetime
    active_until: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AlertOut(AlertRecord):
    active: bool = Field(description="in force at the time of the answer")


class StationAlertsOut(BaseModel):
    station_id: int
    station_code: str
    station_name: str
    active_only: bool
    alerts: list[AlertOut] = Field(description="newest active_from first")
    page: PageInfo
