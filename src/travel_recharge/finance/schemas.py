"""Ledger answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from travel_recharge.kit.pagination import PageInfo


class LedgerEntryOut(BaseModel):
    entry_id: int
    kind: str = Field(
        description="recharge, fare, credit_repayment, balance_transfer or adjustment"
    )
    amount: int = Field(description="pesos; credits are positive, charges negative")
    balance_after: int
    recharge_id: int | None
    trip_id: int | None
    counterpart_card_id: int | None
    note: str | None
    created_at: datetime


class CardLedgerOut(BaseModel):
    card_id: int
    entries: list[LedgerEntryOut] = Field(description="newest first")
    page: PageInfo


class LedgerMismatch(BaseModel):
    card_id: int
    stored_balance: int
    ledger_sum: int
    last_balance_after: int | None


class LedgerVerification(BaseModel):
    ok: bool
    cards_checked: int
    mismatches: list[LedgerMismatch]
