"""Where trips went, per finished local day (migration 0013): written by the flows job
(analytics/flows/job.py), which infers destinations by trip chaining, and summed by the API.

Real riders only: the traffic simulator's trips never reach these tables.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base

UNKNOWN_DESTINATION = ""  # od_localities.destination of a trip whose destination is unknown


class FlowDay(Base):
    """A day the job has counted, and how many trips it counted: a day whose trips in the
    rollups no longer match (a late tap) is counted again."""

    __tablename__ = "od_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    trips: Mapped[int] = mapped_column(BigInteger)
    inferred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _DayBand:
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    band: Mapped[str] = mapped_column(String(8), primary_key=True)


class LocalityFlow(_DayBand, Base):
    """Trips by origin and destination locality; an unknown destination is ''."""

    __tablename__ = "od_localities"

    origin: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination: Mapped[str] = mapped_column(String(2), primary_key=True)
    how: Mapped[str] = mapped_column(String(8), primary_key=True)  # observed, inferred, unknown
    trips: Mapped[int] = mapped_column(BigInteger)


class StationFlow(_DayBand, Base):
    """Trips between trunk stations, portals and cable stations (both ends known)."""

    __tablename__ = "od_stations"

    origin_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    how: Mapped[str] = mapped_column(String(8), primary_key=True)  # observed, inferred
    trips: Mapped[int] = mapped_column(BigInteger)


class TransferLineFlow(_DayBand, Base):
    """Transfers by the lines they link: a bus route's code, or 'trunk' / 'cable'."""

    __tablename__ = "transfer_lines"

    from_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    from_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    to_kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    to_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    transfers: Mapped[int] = mapped_column(BigInteger)


class TransferPlace(_DayBand, Base):
    """Transfers by the stop where the rider boarded the next leg."""

    __tablename__ = "transfer_places"

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfers: Mapped[int] = mapped_column(BigInteger)
