"""Rider behaviour (migration 0014): each card's trips per finished local day, kept eight
weeks, and each day's figures as the endpoint answers them; written by the daily job."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class RiderDay(Base):
    __tablename__ = "rider_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    card_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    trips: Mapped[int] = mapped_column(SmallInteger)
    transfers: Mapped[int] = mapped_column(SmallInteger)
    credit_trips: Mapped[int] = mapped_column(SmallInteger)


class RiderSnapshot(Base):
    """A day's rider figures (analytics.riders.schemas.RiderBehaviour as JSON)."""

    __tablename__ = "rider_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
