"""Offline risk: taps an offline validator let through that the card could not cover.

A validator without its link decides alone; when its batch arrives, a tap it accepted is
charged whatever the balance (the rider already rode). One the card could neither pay nor
ride on credit leaves its balance below what it may owe: recorded here and reported to
operators, never refused after the fact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class OfflineRisk(Base):
    __tablename__ = "offline_risks"

    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id"), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    validator_id: Mapped[str] = mapped_column(String(64))
    fare_charged: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
