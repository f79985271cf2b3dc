"""Station performance's answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class StationDay(BaseModel):
    station_id: int
    code: str
    name: str
    boardings: int = Field(description="boardings on the day (so far, for today)")
    peak_hour: int | None = Field(description="the local clock hour with the most boardings")
    peak_hour_boardings: int
    peak_hour_factor: float | None = Field(
        description="the peak hour's boardings over four times its busiest quarter hour (1: even)"
    )
    busiest_15_min: str | None = Field(description="start of the busiest quarter hour, HH:MM")
    busiest_15_min_boardings: int
    rank: int | None = Field(description="by boardings over the 7 days ending on the day")
    rank_week_before: int | None = Field(description="the same, over the 7 days before those")
    rank_change: int | None = Field(description="places gained since the week before")
    anomalies: int = Field(description="hours of the day flagged below")


class HourAnomaly(BaseModel):
    station_id: int
    code: str
    name: str
    hour: int
    boardings: int
    usual: float = Field(description="the median of the same weekday-hour in the history")
    robust_z: float
    direction: str = Field(description="high or low")


class StationPerformance(BaseModel):
    day: date
    weekday: str
    history_days: list[date] = Field(description="the same weekday in earlier weeks, with data")
    hours_judged: int = Field(description="station-hours with enough history to be judged")
    z_threshold: float
    stations: list[StationDay] = Field(description="busiest first")
    anomalies: list[HourAnomaly] = Field(description="most unusual first")
