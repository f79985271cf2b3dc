"""Fare policy answers (the stored policy document plus its id)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FarePolicyOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    effective_from: str = Field(description="ISO 8601 instant with offset, Bogotá local midnight")
    base_fares: dict[str, int] = Field(description="full fare in pesos per service kind")
    transfer_window_seconds: int
    max_transfers: int
    credit_trips: int
    max_balance: int


class FaresOut(BaseModel):
    in_force: FarePolicyOut | None = Field(description="the policy pricing taps right now")
    history: list[FarePolicyOut] = Field(description="every version, oldest first")
    currency: str = "COP"
