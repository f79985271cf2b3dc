"""Offline batch requests and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from travel_recharge.cards.schemas import Id
from travel_recharge.kit.pagination import PageInfo
from travel_recharge.security.devices import ValidatorId
from travel_recharge.trips.schemas import RouteCode, StationRef

MAX_BATCH_TAPS = 500


def _text_only(value: object) -> object:
    # JSON has no date-time type: the schema says a string, and a number (which pydantic would
    # read as seconds since 1970) is refused as the schema refuses it, not tap by tap.
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


EventTime = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class BatchTap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tap_id: uuid.UUID = Field(description="the validator's id of the tap; a resent tap is one tap")
    card_id: Id
    event_time: EventTime = Field(description="when the validator read the card")
    station_id: StationRef | None = Field(default=None)
    route_code: RouteCode | None = Field(default=None)


class TapBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    validator_id: ValidatorId = Field(description="the validator that read every tap")
    taps: list[BatchTap] = Field(min_length=1, max_length=MAX_BATCH_TAPS)


class RepricedTrip(BaseModel):
    trip_id: int
    fare_was: int
    fare_now: int
    fare_kind_now: str


class BatchTapResult(BaseModel):
    tap_id: uuid.UUID
    card_id: int
    result: Literal["charged", "duplicate", "refused"] = Field(
        description="charged now; duplicate: applied before (this batch or an earlier one, "
        "or a double tap); refused: not applied, see error and reason"
    )
    trip_id: int | None = None
    fare_charged: int | None = None
    fare_kind: str | None = None
    balance_after: int | None = None
    offline_risk: bool = Field(
        default=False, description="charged beyond what the card could pay or ride on credit"
    )
    repriced: list[RepricedTrip] = Field(
        default_factory=list,
        description="later taps of the card this late tap changed (history is not rewritten: "
        "see adjustment)",
    )
    adjustment: int = Field(
        default=0,
        description="pesos the ledger entry settling those changes moved (> 0: credited)",
    )
    adjustment_entry_id: int | None = Field(default=None, description="that ledger entry")
    error: str | None = Field(default=None, description="the refusal's code")
    reason: str | None = Field(default=None, description="why it was refused")


class BatchOut(BaseModel):
    validator_id: str
    taps: list[BatchTapResult] = Field(description="one per tap, in the order sent")
    charged: int
    duplicates: int
    refused: int
    offline_risks: int


class OfflineRiskOut(BaseModel):
    trip_id: int
    card_id: int
    validator_id: str
    fare_charged: int
    balance_after: int = Field(
        description="the card's balance after the tap: below what it may owe"
    )
    recorded_at: datetime


class OfflineRisksOut(BaseModel):
    offline_risks: list[OfflineRiskOut] = Field(description="newest first")
    page: PageInfo
