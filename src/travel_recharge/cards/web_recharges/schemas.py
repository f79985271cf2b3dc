"""Web recharge answers (the request is a RechargeRequest, as at a point of sale)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from travel_recharge.kit.pagination import PageInfo


class WebRechargeOut(BaseModel):
    web_recharge_id: int
    card_id: int
    amount: int
    recharge_point_id: int
    status: Literal["pending", "posted", "expired"] = Field(
        description="pending until the card is read at a station; posted; expired (refunded)"
    )
    paid_at: datetime
    expires_at: datetime = Field(
        description="refunded if the card is not read at a station by then"
    )
    posted_at: datetime | None
    recharge_id: int | None = Field(description="the recharge it became when posted")
    validator_id: str | None = Field(description="the station validator that read the card")
    expired_at: datetime | None = Field(description="when it expired and was refunded")


class WebRechargesOut(BaseModel):
    card_id: int
    web_recharges: list[WebRechargeOut] = Field(description="newest first")
    page: PageInfo


class PostedWebRecharge(BaseModel):
    """A web recharge a tap posted to the card before pricing itself."""

    web_recharge_id: int
    recharge_id: int
    amount: int
