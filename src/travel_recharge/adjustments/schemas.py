"""Adjustment requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from travel_recharge.kit.ids import MAX_ID
from travel_recharge.kit.pagination import PageInfo

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Kind = Literal["refund", "correction"]
Status = Literal["proposed", "approved", "rejected"]


class AdjustmentProposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_id: Id
    kind: Kind = Field(description="refund: money back (> 0); correction: either sign")
    amount: int = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        description="signed pesos: > 0 credits the card, < 0 debits it; never 0 (at most "
        "TR_ADJUSTMENT_MAX_AMOUNT either way)",
    )
    reason: str = Field(min_length=3, max_length=500, description="why, for the audit trail")
    trip_id: Id | None = Field(default=None, description="the trip it corrects")
    recharge_id: Id | None = Field(default=None, description="the recharge it corrects")

    @model_validator(mode="after")
    def _consistent(self) -> AdjustmentProposal:
        if self.amount == 0:
            raise ValueError("amount: an adjustment of 0 pesos changes nothing")
        if self.kind == "refund" and self.amount < 0:
            raise ValueError("amount: a refund credits the card; a debit is a correction")
        if (self.trip_id is None) == (self.recharge_id is None):
            raise ValueError("trip_id, recharge_id: name exactly one, what the adjustment corrects")
        return self


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, min_length=3, max_length=500)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=3, max_length=500, description="why it is rejected")


class AdjustmentOut(BaseModel):
    adjustment_id: int
    card_id: int
    kind: Kind
    amount: int
    reason: str
    trip_id: int | None
    recharge_id: int | None
    status: Status
    proposed_by: int = Field(description="the account that proposed it")
    proposed_at: datetime
    decided_by: int | None = Field(description="the account that approved or rejected it")
    decided_at: datetime | None
    decision_note: str | None
    ledger_entry_id: int | None = Field(description="the entry its approval posted")
    balance_after: int | None = Field(
        default=None, description="the card's balance after the approval posted it"
    )


class AdjustmentsOut(BaseModel):
    adjustments: list[AdjustmentOut] = Field(description="newest first")
    page: PageInfo
