"""Accounts that may ask for tokens: people (password grant) and devices (client credentials)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base

ROLES = ("rider", "validator", "recharge_point", "analyst", "operator", "admin")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("login ~ '^[A-Za-z0-9._@-]{3,64}$'", name="login"),
        CheckConstraint("kind IN ('person', 'client')", name="kind"),
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        # A rider account reads the cards of exactly one rider; no other role owns cards.
        CheckConstraint("(role = 'rider') = (user_id IS NOT NULL)", name="rider_iff_user"),
        CheckConstraint("role <> 'rider' OR kind = 'person'", name="riders_are_people"),
        # A device account acts as one validator or one recharge point (migration 0007): the
        # binding belongs to its role only, and every active device account has one.
        CheckConstraint(
            "(validator_id IS NULL OR role = 'validator')"
            " AND (recharge_point_id IS NULL OR role = 'recharge_point')",
            name="binding_matches_role",
        ),
        CheckConstraint(
            "NOT active OR (role <> 'validator' OR validator_id IS NOT NULL)"
            " AND (role <> 'recharge_point' OR recharge_point_id IS NOT NULL)",
            name="active_devices_bound",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The username of a person or the client_id of a device.
    login: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The only validator (the validator_id its taps must name) or recharge point it acts as.
    validator_id: Mapped[str | None] = mapped_column(String(64))
    recharge_point_id: Mapped[int | None] = mapped_column(ForeignKey("recharge_points.id"))
    # argon2id hash of the password or client secret; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Made by demo mode (security.demo) with secrets written to the data directory.
    demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The traffic simulator's device accounts (migration 0006), reused run after run.
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TokenRevocation(Base):
    """One token revoked (`token_id`), or every token of an account issued before a time
    (`issued_before`). A row matters until `expires_at`, when every token it names has
    expired anyway; workers load those in force (accounts.revocations)."""

    __tablename__ = "token_revocations"
    __table_args__ = (
        CheckConstraint(
            "(token_id IS NULL) <> (issued_before IS NULL)", name="one_token_or_all_before"
        ),
        Index("ix_token_revocations_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # No foreign keys: a token outlives the account it names when the simulator's clean-up
    # deletes its device accounts, and revoking it must still be possible (and not block the
    # clean-up).
    account_id: Mapped[int] = mapped_column(BigInteger)
    token_id: Mapped[str | None] = mapped_column(String(64))
    issued_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_by: Mapped[int | None] = mapped_column(BigInteger)
