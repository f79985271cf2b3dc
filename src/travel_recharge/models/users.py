"""Riders who own personalized cards (and the traffic simulator's made-up riders)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_registered_at", "registered_at"),
        # The simulator's riders are few: finding them (to clean them up) reads only them.
        Index("ix_users_simulated", "id", postgresql_where=text("simulated")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(160))
    document_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Made by the traffic simulator (migration 0006): left out of analytics unless asked for.
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")
