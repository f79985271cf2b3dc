"""The live dashboard's answer. Revenue is fares charged at boarding, in whole pesos."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from travel_recharge.analytics.schemas import HourTrips


class TodayFigures(BaseModel):
    trips: int = Field(description="taps priced today (local day), from the rollups")
    revenue: int = Field(description="fares charged today, pesos (credit trips included)")
    transfers: int = Field(description="taps priced as a transfer today")
    credit_trips: int = Field(description="taps that used a credit trip today")


class MinuteTaps(BaseModel):
    minute: datetime = Field(description="start of the minute, UTC")
    taps: int = Field(description="taps whose event time falls in this minute")


class LocalityToday(BaseModel):
    code: str
    name: str
    revenue: int = Field(description="fares charged today at its trunk, portal and cable stations")
    trips: int = Field(description="boardings today at its trunk, portal and cable stations")


class OutsideStationsToday(BaseModel):
    """Today's boardings not at a trunk, portal or cable station (buses, zonal stops)."""

    revenue: int
    trips: int


class LiveDashboard(BaseModel):
    generated_at: datetime = Field(description="when these figures were computed, UTC")
    timezone: str = Field(description="the city's time zone, which decides the local day")
    local_date: date = Field(description="today in that time zone")
    today: TodayFigures
    active_cards_today: int = Field(
        description="different cards that tapped since local midnight; recomputed at most "
        "every cache_ttl_live_active_cards_s (see active_cards_as_of)"
    )
    active_cards_as_of: datetime = Field(description="when active_cards_today was counted, UTC")
    taps_per_minute: list[MinuteTaps] = Field(
        description="the last 60 whole minutes and the current (partial) one, oldest first, "
        "zero when there were no taps; read from the trips, so without the rollups' lag"
    )
    taps_last_minute: int = Field(description="taps in the last whole minute")
    revenue_by_locality_today: list[LocalityToday] = Field(
        description="every locality, zero when it had no boardings; station boardings only: "
        "bus boardings are in revenue_outside_stations_today"
    )
    revenue_outside_stations_today: OutsideStationsToday = Field(
        description="today's figures not attributed to a locality above; with the localities "
        "it adds up to `today`"
    )
    trips_by_hour_today: list[HourTrips] = Field(description="all 24 local hours, zero-filled")
    currency: str = "COP"
