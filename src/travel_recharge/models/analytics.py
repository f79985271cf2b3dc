"""Analytics rollups (migration 0003).

A tap never updates a shared counter: a trigger appends one row to `rollup_deltas`, and the
folder (fold_rollup_deltas(), run every second by one worker at a time) moves the deltas
into the rollups. So concurrent taps never queue on a hot row, and readers sum small tables
(localities x service kinds; local days x hours x kinds; days x trunk stations), never trips.

The traffic simulator's taps (of simulated cards, migration 0006) are kept in rows of their
own (`simulated` is part of every key), so figures leave them out, or add them when asked
for, by a condition on the key rather than a scan.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class _TripCounters:
    trips: Mapped[int] = mapped_column(BigInteger, server_default="0")
    transfers: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_trips: Mapped[int] = mapped_column(BigInteger, server_default="0")
    benefit_trips: Mapped[int] = mapped_column(BigInteger, server_default="0")
    revenue: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AnalyticsSettings(Base):
    """One row: the city's time zone, which decides a tap's local day and hour."""

    __tablename__ = "analytics_settings"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))


class RollupDelta(Base):
    """A tap (trips = 1) or a trip end (completed = 1) not yet folded into the rollups."""

    __tablename__ = "rollup_deltas"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    station_id: Mapped[int | None] = mapped_column(Integer)
    route_id: Mapped[int | None] = mapped_column(Integer)
    service_kind: Mapped[str] = mapped_column(String(10))
    trips: Mapped[int] = mapped_column(SmallInteger)
    completed: Mapped[int] = mapped_column(SmallInteger)
    transfers: Mapped[int] = mapped_column(SmallInteger)
    credit_trips: Mapped[int] = mapped_column(SmallInteger)
    benefit_trips: Mapped[int] = mapped_column(SmallInteger)
    revenue: Mapped[int] = mapped_column(BigInteger)
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")


class RollupTotal(_TripCounters, Base):
    """All-time figures per locality and service kind."""

    __tablename__ = "rollup_totals"

    locality_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    service_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="false")
    completed_trips: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupHour(_TripCounters, Base):
    """Figures per local day, hour of day and service kind (date-range analytics)."""

    __tablename__ = "rollup_hours"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    service_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="false")


class RollupStationDay(Base):
    """Boardings per local day at trunk stations, portals and TransMiCable stations."""

    __tablename__ = "rollup_station_days"
    __table_args__ = (Index("ix_rollup_station_days_station_id", "station_id"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="false")
    trips: Mapped[int] = mapped_column(BigInteger, server_default="0")
    revenue: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupUsers(Base):
    """One row: registered and active riders (registrations are rare: a trigger suffices);
    the simulator's riders are counted apart."""

    __tablename__ = "rollup_users"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    total_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
    active_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
    simulated_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
    simulated_active_users: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RevenueForecastRow(Base):
    """One row: the revenue forecast's last answer (JSON) and when it was fitted (migration
    0011). The forecast job replaces it at most hourly; workers only read it."""

    __tablename__ = "revenue_forecasts"
    __table_args__ = (CheckConstraint("id = 1", name="ck_revenue_forecasts_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    fitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str] = mapped_column(Text)


class RollupStationTimeline(Base):
    """A local day's boardings at a trunk station, portal or cable station by hour (24) and
    by quarter hour (96), element 1 at 00:00 (migration 0016): the weeks of history a
    station's hour is compared with, a day's busiest 15 minutes and its peak-hour factor."""

    __tablename__ = "rollup_station_timelines"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="false")
    hours: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    quarters: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
