"""Where trips went (migration 0013): written by the flows job (analytics/flows/job.py), which
infers destinations by trip chaining once a local day has ended, and read by the API.

Transfers by service kind are kept per day and band; the rest (locality and station pairs,
pairs of lines, transfer places) are cumulative series: a row per key and band whose arrays
hold the running totals per day from FlowSeriesState.first_day (element 1) to last_day, so a
range of days sums as two elements per key (analytics/flows/series.py).

Real riders only: the traffic simulator's trips never reach these tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base

UNKNOWN_DESTINATION = ""  # the destination locality of a trip whose destination is unknown
WHOLE_DAY = "all"  # the series' band of every hour of the day
# Series rows are rewritten each counted day: half-empty pages keep a row's new version on its
# page (HOT for the locality pairs, whose table has no index on the totals: 0013, 0015).
SERIES_OPTIONS = {"postgresql_with": {"fillfactor": 50}}


def busiest_first(table: str, *totals: str) -> tuple[Any, ...]:
    """A series' table arguments with its keys by their total over every day, busiest first
    (migration 0015): the busiest keys of any range are found among the first of them."""
    grand = " + ".join(f"{total}[cardinality({total})]" for total in totals)
    return (Index(f"ix_{table}_busiest", "band", text(f"({grand}) DESC")), SERIES_OPTIONS)


class FlowDay(Base):
    """A day the job has counted, and how many trips it counted: a day whose trips in the
    rollups no longer match (a late tap) is counted again."""

    __tablename__ = "od_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    trips: Mapped[int] = mapped_column(BigInteger)
    inferred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TransferKindFlow(Base):
    """Transfers by day, band and the service kinds they link (trunk, zonal, feeder, cable)."""

    __tablename__ = "transfer_kinds"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    from_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    to_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    transfers: Mapped[int] = mapped_column(BigInteger)


class FlowSeriesState(Base):
    """One row: the days the series' arrays cover (element 1 is first_day)."""

    __tablename__ = "flow_series_state"
    __table_args__ = (CheckConstraint("id = 1", name="ck_flow_series_state_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)


class LocalityFlowSeries(Base):
    """Trips by origin and destination locality and how the destination is known (observed,
    inferred, unknown); an unknown destination is ''."""

    __tablename__ = "od_locality_series"
    __table_args__ = SERIES_OPTIONS

    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    origin: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination: Mapped[str] = mapped_column(String(2), primary_key=True)
    how: Mapped[str] = mapped_column(String(8), primary_key=True)
    trips: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class StationFlowSeries(Base):
    """Trips between trunk stations, portals and cable stations (both ends known)."""

    __tablename__ = "od_station_series"
    __table_args__ = busiest_first(__tablename__, "observed", "inferred")

    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    origin_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observed: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    inferred: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class _TransferLines:
    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    from_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    from_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    to_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    to_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    transfers: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class TransferLineSeries(_TransferLines, Base):
    """Transfers by the lines they link (a bus route's code, or 'trunk' / 'cable'), by band."""

    __tablename__ = "transfer_line_series"
    __table_args__ = busiest_first(__tablename__, "transfers")


class TransferLineDaySeries(_TransferLines, Base):
    """The same for the whole day only (band 'all'): the most asked-for figure of the family
    with the most keys, in a table of its own so its answer scans only its rows."""

    __tablename__ = "transfer_line_day_series"
    __table_args__ = busiest_first(__tablename__, "transfers")


class TransferPlaceSeries(Base):
    """Transfers by the stop where the rider boarded the next leg."""

    __tablename__ = "transfer_place_series"
    __table_args__ = busiest_first(__tablename__, "transfers")

    band: Mapped[str] = mapped_column(String(8), primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfers: Mapped[list[int]] = mapped_column(ARRAY(Integer))
