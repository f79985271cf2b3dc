"""Analytics rollups, maintained by triggers on trips and users (migration 0003).

Readers never scan trips: totals, hourly figures and station loads come from these small
tables. Counters are split over `shard` (card id modulo the shard count) so that concurrent
taps of different cards update different rows instead of queueing on one hot counter.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, String
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
    shards: Mapped[int] = mapped_column(SmallInteger)


class RollupTotal(_TripCounters, Base):
    """All-time figures per locality and service kind (trip ends add completed_trips)."""

    __tablename__ = "rollup_totals"

    locality_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    service_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    completed_trips: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupHour(_TripCounters, Base):
    """Figures per local day, hour of day and service kind (date-range analytics)."""

    __tablename__ = "rollup_hours"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    service_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class RollupStationDay(Base):
    """Boardings per local day at trunk stations, portals and TransMiCable stations."""

    __tablename__ = "rollup_station_days"
    __table_args__ = (Index("ix_rollup_station_days_station_id", "station_id"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    trips: Mapped[int] = mapped_column(BigInteger, server_default="0")
    revenue: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupUsers(Base):
    """One row: registered and active riders."""

    __tablename__ = "rollup_users"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    total_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
    active_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
