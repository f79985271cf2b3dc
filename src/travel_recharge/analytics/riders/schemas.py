"""The rider behaviour answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class DayActivity(BaseModel):
    day: date
    active_cards: int
    trips: int


class Segment(BaseModel):
    segment: str = Field(
        description="basic (anonymous card), a profile (elderly, student_jovenes_e, ...), "
        "regular_commuter (a personalized card riding on 12 or more of the 20 weekdays), "
        "or occasional"
    )
    cards: int
    active_days: int
    trips: int
    trips_per_card: float
    transfer_share: float = Field(description="transfers over trips")
    credit_share: float = Field(description="credit trips over trips")


class CountBin(BaseModel):
    label: str
    count: int


class RechargeHabits(BaseModel):
    recharges: int
    amount: int = Field(description="pesos recharged")
    median_amount: int | None
    amounts: list[CountBin]
    median_days_between: float | None = Field(
        description="days since the card's previous recharge (any time before)"
    )
    days_between: list[CountBin] = Field(description="first: the card's first recharge")


class RiderBehaviour(BaseModel):
    day: date = Field(description="the local day the figures end on")
    window_days: int = Field(description="segments and recharges look back this many days")
    active_cards_day: int
    active_cards_week: int = Field(description="distinct cards riding in the 7 days")
    active_cards_window: int
    trips_day: int
    trips_per_active_card: float | None
    daily: list[DayActivity]
    segments: list[Segment]
    recharges: RechargeHabits
    dormant_cards: int = Field(
        description="active cards with no trip in the 30 days ending on the day"
    )
    dormant_share: float = Field(description="of the active cards issued before those 30 days")
