"""Adjustments: refunds and corrections of a card's balance, proposed by one operator and
decided by another before anything reaches the ledger (maker-checker).

A proposal moves no money. Its approval appends one ledger entry of kind 'adjustment' and
changes the card's balance in the same transaction; a rejection moves nothing. The row keeps
who proposed and who decided, and when, for audit; the database refuses a decision by the
account that proposed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class Adjustment(Base):
    __tablename__ = "adjustments"
    __table_args__ = (
        CheckConstraint("kind IN ('refund', 'correction')", name="kind"),
        CheckConstraint("amount <> 0 AND (kind <> 'refund' OR amount > 0)", name="amount"),
        CheckConstraint("num_nonnulls(trip_id, recharge_id) = 1", name="one_reference"),
        CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status"),
        CheckConstraint(
            "(status = 'proposed') = (decided_by IS NULL AND decided_at IS NULL)",
            name="decided_when_not_proposed",
        ),
        CheckConstraint("(status = 'approved') = (ledger_entry_id IS NOT NULL)", name="posted"),
        CheckConstraint("decided_by <> proposed_by", name="four_eyes"),
        # The audit list, newest first, and per card.
        Index("ix_adjustments_status_id", "status", "id"),
        Index("ix_adjustments_card_id_id", "card_id", "id"),
        # The refunds already approved against a trip or a recharge (the refund cap).
        Index("ix_adjustments_trip_id", "trip_id", postgresql_where="trip_id IS NOT NULL"),
        Index(
            "ix_adjustments_recharge_id", "recharge_id", postgresql_where="recharge_id IS NOT NULL"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed pesos: > 0 credits the card
    reason: Mapped[str] = mapped_column(Text)
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"))
    recharge_id: Mapped[int | None] = mapped_column(ForeignKey("recharges.id"))
    status: Mapped[str] = mapped_column(String(10), server_default="proposed")
    proposed_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    proposed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
