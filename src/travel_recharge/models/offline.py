"""Offline risk: taps an offline validator let through that the card could not cover.

A validator without its link decides alone; when its batch arrives, a tap it accepted is
charged whatever the balance (the rider already rode). One the card could neither pay nor
ride on credit leaves its balance below what it may owe: recorded here and reported to
operators, never refused after the fact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func
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


class Repricing(Base):
    """What a late tap changed in a later tap of the same card: the fare it should have
    cost, and the kind it counts as for the taps after it. The later trip's row keeps what
    it was charged (history is never rewritten); the difference is settled by the ledger
    entry named here (none when only the kind changed). The latest repricing of a trip is
    what later taps are priced against."""

    __tablename__ = "repricings"
    __table_args__ = (Index("ix_repricings_trip_id_id", "trip_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    late_trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id"))
    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id"))
    fare_was: Mapped[int] = mapped_column(BigInteger)
    fare_now: Mapped[int] = mapped_column(BigInteger)
    fare_kind_now: Mapped[str] = mapped_column(String(14))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
