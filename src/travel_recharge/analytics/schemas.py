"""Analytics answers. Revenue is always the fares charged at boarding, in whole pesos
(including fares charged on credit); recharges are not revenue."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class TotalUsers(BaseModel):
    total_users: int


class ActiveUsers(BaseModel):
    active_users_count: int


class LatestUserInfo(BaseModel):
    user_id: int
    full_name: str = Field(description="the full name for admins; initials for analysts")


class LatestUser(BaseModel):
    latest_user: LatestUserInfo


class TripTotals(BaseModel):
    total_trips: int
    completed_trips: int = Field(description="trips whose exit was recorded")
    active_trips: int = Field(description="trips without a recorded exit")
    total_revenue: int = Field(description="fares charged, pesos")


class LocalityTrips(TripTotals):
    locality: str
    locality_code: str


class TripTotalsByLocality(BaseModel):
    localities: list[LocalityTrips]


class Revenue(BaseModel):
    total_revenue: int
    currency: str = "COP"


class LocalityRevenue(BaseModel):
    locality: str
    locality_code: str
    total_revenue: int


class RevenueByLocality(BaseModel):
    data: list[LocalityRevenue]
    currency: str = "COP"


class DateRange(BaseModel):
    date_from: date = Field(description="first local day (America/Bogota), inclusive")
    date_to: date = Field(description="last local day, inclusive")


class HourTrips(BaseModel):
    hour: int = Field(description="local hour of day, 0-23")
    trips: int


class TripsByHour(DateRange):
    service_kind: str | None
    hours: list[HourTrips] = Field(description="all 24 hours, zero when there were no taps")


class DayRevenue(BaseModel):
    day: date
    trips: int
    revenue: int


class RevenueByDay(DateRange):
    days: list[DayRevenue]
    currency: str = "COP"


class StationLoad(BaseModel):
    station_id: int
    code: str
    name: str
    boardings: int
    revenue: int


class TopStations(DateRange):
    stations: list[StationLoad] = Field(
        description="trunk stations, portals and cable, busiest first"
    )


class ServiceKindShares(BaseModel):
    service_kind: str
    trips: int
    transfers: int
    transfer_share: float = Field(description="transfers / trips, 0-1")
    credit_trips: int
    credit_share: float = Field(description="credit trips / trips, 0-1")
    benefit_trips: int
    revenue: int


class Shares(DateRange):
    by_service_kind: list[ServiceKindShares]
    overall: ServiceKindShares
