"""Answers of the origin-destination matrix and of the transfer flows."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class Coverage(BaseModel):
    """Which days of the range are counted (a day is counted once it has ended)."""

    first: date
    last: date
    band: str | None = Field(description="the time band, or null for the whole day")
    band_hours: tuple[int, int] | None = Field(description="its local hours [from, to)")
    days_counted: int
    days_not_counted: list[date] = Field(
        description="days of the range not counted yet (today, or the job has not run)"
    )


class DestinationShares(BaseModel):
    trips: int
    observed: int = Field(description="destination from an exit tap")
    inferred: int = Field(description="destination inferred by trip chaining")
    unknown: int = Field(description="a single trip that day, or the next boarding too far")
    observed_share: float
    inferred_share: float
    unknown_share: float


class Place(BaseModel):
    code: str
    name: str
    latitude: float
    longitude: float


class Pair(BaseModel):
    origin: Place
    destination: Place
    trips: int
    observed: int
    inferred: int


class OdMatrix(BaseModel):
    level: str = Field(description="locality or station")
    coverage: Coverage
    method: str
    max_walk_m: float
    shares: DestinationShares = Field(description="over all trips of the range and band")
    unknown_by_origin: dict[str, int] = Field(
        description="trips with no destination, by origin (locality code or station code)"
    )
    pairs: list[Pair] = Field(description="origin-destination pairs, busiest first")


class KindFlow(BaseModel):
    from_kind: str
    to_kind: str
    transfers: int


class LineFlow(BaseModel):
    from_kind: str
    from_line: str = Field(description="a bus route's code, or trunk / cable for a station tap")
    to_kind: str
    to_line: str
    transfers: int


class TransferPlace(BaseModel):
    station_id: int
    code: str
    name: str
    kind: str
    locality: str
    transfers: int


class TransferFlows(BaseModel):
    coverage: Coverage
    transfers: int = Field(description="transfer boardings linked to the trip before them")
    by_kind: list[KindFlow]
    lines: list[LineFlow] = Field(description="the busiest pairs of lines")
    places: list[TransferPlace] = Field(
        description="the stops where most transfers board the next leg"
    )
