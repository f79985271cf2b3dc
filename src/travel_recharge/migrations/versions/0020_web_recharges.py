"""Web recharges: paid on the web, pending until the card's next read at a station.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reference(
    column: str, table: str, *, nullable: bool, kind: type[sa.Integer] = sa.BigInteger
) -> sa.Column[int]:
    return sa.Column(
        column,
        kind(),
        sa.ForeignKey(f"{table}.id", name=op.f(f"fk_web_recharges_{column}_{table}")),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "web_recharges",
        sa.Column("id", sa.BigInteger(), nullable=False),
        _reference("card_id", "cards", nullable=False),
        _reference("recharge_point_id", "recharge_points", nullable=False, kind=sa.Integer),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        _reference("recharge_id", "recharges", nullable=True),
        sa.Column("validator_id", sa.String(length=64), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        _reference("account_id", "accounts", nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_web_recharges_amount_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'expired')", name=op.f("ck_web_recharges_status")
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (recharge_id IS NOT NULL AND posted_at IS NOT NULL)",
            name=op.f("ck_web_recharges_posted_with_its_recharge"),
        ),
        sa.CheckConstraint(
            "(status = 'expired') = (expired_at IS NOT NULL)",
            name=op.f("ck_web_recharges_expired_when"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_recharges")),
    )
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_web_recharges_pending_card_id", "web_recharges", ["card_id"], postgresql_where=pending
    )
    op.create_index(
        "ix_web_recharges_pending_expires_at",
        "web_recharges",
        ["expires_at"],
        postgresql_where=pending,
    )
    op.create_index("ix_web_recharges_card_id_id", "web_recharges", ["card_id", "id"])


def downgrade() -> None:
    op.drop_table("web_recharges")
