"""Web recharges: paid on the web, pending, posted to the card at its next read at a station.

A web recharge is two-phase, as in Bogotá: the money is paid first, and reaches the card only
when the card is next read at a station validator. Until then it is pending: not in the
card's balance nor its ledger, shown beside the balance. Posted, it becomes an ordinary
recharge (channel 'web') with its ledger entries, in the transaction of that tap. A pending
one not posted within TR_WEB_RECHARGE_EXPIRY_DAYS expires and is refunded to the payer; it
never reached the card, so the card's ledger never held it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class WebRecharge(Base):
    __tablename__ = "web_recharges"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'posted', 'expired')", name="status"),
        CheckConstraint(
            "(status = 'posted') = (recharge_id IS NOT NULL AND posted_at IS NOT NULL)",
            name="posted_with_its_recharge",
        ),
        CheckConstraint("(status = 'expired') = (expired_at IS NOT NULL)", name="expired_when"),
        # A tap asks whether its card has any pending: a probe of a small index.
        Index(
            "ix_web_recharges_pending_card_id",
            "card_id",
            postgresql_where=text("status = 'pending'"),
        ),
        # The expiry sweep finds those due.
        Index(
            "ix_web_recharges_pending_expires_at",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_web_recharges_card_id_id", "card_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    recharge_point_id: Mapped[int] = mapped_column(ForeignKey("recharge_points.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), server_default="pending")
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Posted: the recharge it became, when, and the validator that read the card.
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recharge_id: Mapped[int | None] = mapped_column(ForeignKey("recharges.id"))
    validator_id: Mapped[str | None] = mapped_column(String(64))
    # Expired: when, and so refunded to the payer.
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The account that took the payment (the web shop's device account).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
