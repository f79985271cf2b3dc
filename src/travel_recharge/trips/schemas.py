"""Tap and trip requests and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from travel_recharge.cards.schemas import Id
from travel_recharge.cards.web_recharges.schemas import PostedWebRecharge
from travel_recharge.kit.ids import MAX_INT_ID
from travel_recharge.kit.pagination import PageInfo
from travel_recharge.security.devices import ValidatorId

RouteCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,20}$")]
# stations.id is a PostgreSQL integer: a larger id is refused here, not by the driver (500).
StationRef = Annotated[StrictInt, Field(ge=1, le=MAX_INT_ID)]


class TapIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # The service's rule, stated: a tap names where it happened, by station or route.
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"not": {"type": "null"}}}}
                for field in ("station_id", "route_code")
            ]
        },
    )

    card_id: Id
    station_id: StationRef | None = Field(default=None, description="where the card was read")
    route_code: RouteCode | None = Field(
        default=None, description="the route boarded (on-board validators of zonal buses)"
    )
    validator_id: ValidatorId = Field(
        description="the device that read the card; recorded for audit and double-tap checks; "
        "a validator account may only name the validator it is bound to"
    )
    tap_id: uuid.UUID = Field(description="client-generated id; a retry sends the same one")
    event_time: AwareDatetime | None = Field(
        default=None,
        description="when the validator read the card (default: now); at most "
        "TR_TAP_OFFLINE_WINDOW_S in the past",
    )


class TapOut(BaseModel):
    trip_id: int
    tap_id: uuid.UUID
    card_id: int
    station_id: int | None
    route_code: str | None
    validator_id: str
    service_kind: str
    event_time: datetime
    fare_charged: int
    fare_kind: str = Field(description="full, transfer, credit, free_trip or reduced_fare")
    is_transfer: bool
    credit_used: bool
    benefit_trip_used: bool
    transfers_in_window: int
    transfer_window_left_seconds: int | None = Field(
        description="seconds left to transfer for free; null when no transfer can follow"
    )
    balance_after: int
    duplicate: bool = Field(
        description="true when this answers a retried or double tap: nothing was charged now"
    )
    web_recharges_posted: list[PostedWebRecharge] = Field(
        default_factory=list,
        description="web recharges this read at a station posted to the card before the fare "
        "(a retry answers none: see the card's web recharges)",
    )


class TripEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trip_id: Id
    station_id: StationRef


class TripEndOut(BaseModel):
    trip_id: int
    card_id: int
    boarding_station_id: int | None
    disembarking_station_id: int
    boarding_time: datetime
    disembarking_time: datetime


class CardTrip(BaseModel):
    trip_id: int
    card_id: int
    boarding_station_id: int | None
    disembarking_station_id: int | None
    boarding_time: datetime
    disembarking_time: datetime | None
    route_code: str | None
    service_kind: str
    validator_id: str
    is_transfer: bool
    fare_charged: int
    fare_kind: str


class CardTripsOut(BaseModel):
    card_id: int
    trips: list[CardTrip] = Field(description="newest first")
    page: PageInfo
