"""GTFS-Realtime feeds of the network, public like the other network reads. HTTP only.

Protobuf by default (application/x-protobuf, what journey planners poll); `?format=json`
gives the same content for people. Not HTTP-cacheable: alerts change with every alert
write, trip updates every minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response

from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import PrimaryReadsDep, ReadsDep
from travel_recharge.network.realtime import service
from travel_recharge.network.realtime.schemas import (
    AlertsFeedOut,
    FeedFormat,
    FormatQuery,
    RouteIdQuery,
    StopIdQuery,
    TripUpdatesFeedOut,
)
from travel_recharge.network.schemas import AtQuery
from travel_recharge.security import public

PROTOBUF = "application/x-protobuf"

router = APIRouter(
    prefix="/api/v1/gtfs-rt",
    tags=["gtfs-realtime"],
    route_class=StrictJSONRoute,
    dependencies=[public("reference")],
)


def _protobuf_too(model: type[AlertsFeedOut | TripUpdatesFeedOut]) -> dict[int | str, Any]:
    """The 200 answer in both media types (the JSON schema comes from response_model)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    description = f"A GTFS-Realtime FeedMessage; with format=json, {model.__name__}"
    return {200: {"description": description, "content": {PROTOBUF: binary}}}


def _feed(body: bytes, feed_format: FeedFormat) -> Response:
    media_type = "application/json" if feed_format == "json" else PROTOBUF
    return Response(content=body, media_type=media_type)


@router.get(
    "/alerts",
    response_model=AlertsFeedOut,
    responses={**_protobuf_too(AlertsFeedOut), **error_responses(422)},
)
async def alerts_feed(
    # The primary, as for a station's alerts: a lagging replica would refill the view
    # invalidated by an alert write with the state before the write.
    reads: PrimaryReadsDep,
    feed_format: FormatQuery = "protobuf",
) -> Response:
    """Service alerts not resolved nor ended, with cause, effect, periods and informed entities."""
    body = await service.alerts_feed(reads, now=datetime.now(UTC), feed_format=feed_format)
    return _feed(body, feed_format)


@router.get(
    "/trip-updates",
    response_model=TripUpdatesFeedOut,
    responses={**_protobuf_too(TripUpdatesFeedOut), **error_responses(404, 422)},
)
async def trip_updates_feed(
    reads: ReadsDep,
    feed_format: FormatQuery = "protobuf",
    route_id: RouteIdQuery = None,
    stop_id: StopIdQuery = None,
    at: AtQuery = None,
) -> Response:
    """Trips with their calls expected within the horizon, from the headway timetable."""
    now = datetime.now(UTC)
    body = await service.trip_updates_feed(
        reads,
        at=at or now,
        now=now,
        route_id=route_id,
        stop_id=stop_id,
        feed_format=feed_format,
    )
    return _feed(body, feed_format)
