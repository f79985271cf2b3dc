"""The revenue forecast's answer, as the job stores it and the endpoint serves it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class ForecastDay(BaseModel):
    day: date
    revenue: int = Field(description="expected fare revenue of the local day, in pesos")
    lower: int = Field(description="the prediction interval's low end, in pesos")
    upper: int = Field(description="the prediction interval's high end, in pesos")


class ForecastBacktest(BaseModel):
    days: int = Field(description="the last days of the history the backtest scores")
    origins: list[date] = Field(description="each origin forecasts the week after it")
    scored_days: int = Field(description="days with revenue (the others have no % error)")
    model_mape_pct: float
    seasonal_naive_mape_pct: float = Field(
        description="the baseline: each day as the same weekday one week before its origin"
    )
    model_beats_baseline: bool


class RevenueForecast(BaseModel):
    status: Literal["ok", "insufficient_history"]
    fitted_at: datetime
    model: str
    interval: float = Field(description="the prediction interval's coverage")
    history_from: date | None = Field(description="the first local day with revenue")
    history_to: date = Field(description="the last complete local day (yesterday)")
    history_days: int
    min_history_days: int = Field(description="what the fit and its backtest need")
    days: list[ForecastDay] = Field(description="the next 14 local days, today first")
    backtest: ForecastBacktest | None
