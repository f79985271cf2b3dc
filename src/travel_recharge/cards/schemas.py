"""Card requests and answers. Amounts are whole pesos (strict integers: no floats, no strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from travel_recharge.fares.policy import RechargeChannel, load_shipped_policies
from travel_recharge.kit.ids import MAX_ID, MAX_INT_ID
from travel_recharge.kit.pagination import PageInfo

# No single recharge can be anywhere near this; the fare policy sets the real limits.
MAX_AMOUNT = 10**9


def _shipped_pos_limits() -> tuple[int, int]:
    """The widest point-of-sale limits of the shipped fare policies (all alike today).

    The policies live in the database, versioned by date, so the one in force decides; the
    migrations load the shipped ones, and no shipped version accepts an amount outside these.
    """
    limits = [p.recharge_limits(RechargeChannel.POS) for p in load_shipped_policies()]
    return min(low for low, _ in limits), max(high for _, high in limits)


POS_LOW, POS_HIGH = _shipped_pos_limits()

CardId = Annotated[int, Path(ge=1, le=MAX_ID, description="the card's id")]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
PointId = Annotated[StrictInt, Field(ge=1, le=MAX_INT_ID)]  # recharge_points.id is INTEGER
CardType = Literal["basic", "personalized"]
CardStatus = Literal["active", "blocked", "replaced", "deactivated"]


class CardCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # The service's rule, stated (it answers a 422 naming the field otherwise): a basic
        # card is anonymous, a personalized one names its owner.
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {
                        "card_type": {"const": "basic"},
                        "user_id": {"type": "null"},
                        "profile": {"type": "null"},
                    }
                },
                {
                    "properties": {
                        "card_type": {"const": "personalized"},
                        "user_id": {"type": "integer"},
                    },
                    "required": ["user_id"],
                },
            ]
        },
    )

    card_type: CardType
    user_id: Id | None = Field(default=None, description="owner; personalized cards only")
    profile: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,40}$",
        description="rider profile with monthly benefits (e.g. elderly, disability, "
        "student_jovenes_e): one of the profile_benefits of the policy in force "
        "(GET /api/v1/fares); personalized cards only",
    )


class CardOut(BaseModel):
    card_id: int
    card_number: str
    card_type: CardType
    status: CardStatus
    balance: int
    user_id: int | None
    profile: str | None
    credit_trips_in_use: int
    created_at: datetime


class BalanceOut(BaseModel):
    card_id: int
    balance: int = Field(description="pesos; negative while credit trips are owed")
    last_used_date: datetime | None
    status: CardStatus
    card_type: CardType
    profile: str | None
    credit_trips_in_use: int
    credit_trips_available: int
    pending_web_recharges: int = Field(
        description="pesos paid on the web, not in the balance until the card's next read at "
        "a station validator"
    )


class RechargeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_id: Id
    amount: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=MAX_AMOUNT,
            description=(
                f"pesos; the fare policy in force sets a point of sale's limits, {POS_LOW} to "
                f"{POS_HIGH} in the shipped policies (GET /api/v1/fares), and the card's "
                "balance may not pass the policy's max_balance (422 naming amount)"
            ),
            # The document states the shipped limits; the service checks the policy in force.
            json_schema_extra={"minimum": POS_LOW, "maximum": POS_HIGH},
        ),
    ]
    recharge_point_id: PointId


class RechargeOut(BaseModel):
    recharge_id: int
    card_id: int
    amount: int
    new_balance: int
    credit_repaid: int = Field(description="part of the amount that paid back credit trips")
    recharge_point_id: int
    channel: str
    recharge_timestamp: datetime


class RechargeHistoryItem(BaseModel):
    recharge_id: int
    amount: int
    credit_repaid: int
    new_balance: int
    recharge_point_id: int
    channel: str
    recharge_timestamp: datetime


class RechargeHistoryOut(BaseModel):
    card_id: int
    history: list[RechargeHistoryItem] = Field(description="newest first")
    page: PageInfo


class BlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=200, description="e.g. reported lost or stolen")


class ReplacementOut(BaseModel):
    old_card_id: int
    new_card: CardOut
    balance_moved: int
