"""Adjustments: refunds and corrections proposed by one operator, decided by another.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _account(column: str, *, nullable: bool) -> sa.Column[int]:
    return sa.Column(
        column,
        sa.BigInteger(),
        sa.ForeignKey("accounts.id", name=op.f(f"fk_adjustments_{column}_accounts")),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "adjustments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "card_id",
            sa.BigInteger(),
            sa.ForeignKey("cards.id", name=op.f("fk_adjustments_card_id_cards")),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "trip_id",
            sa.BigInteger(),
            sa.ForeignKey("trips.id", name=op.f("fk_adjustments_trip_id_trips")),
            nullable=True,
        ),
        sa.Column(
            "recharge_id",
            sa.BigInteger(),
            sa.ForeignKey("recharges.id", name=op.f("fk_adjustments_recharge_id_recharges")),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=10), server_default="proposed", nullable=False),
        _account("proposed_by", nullable=False),
        sa.Column(
            "proposed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _account("decided_by", nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column(
            "ledger_entry_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "ledger_entries.id", name=op.f("fk_adjustments_ledger_entry_id_ledger_entries")
            ),
            nullable=True,
        ),
        sa.CheckConstraint("kind IN ('refund', 'correction')", name=op.f("ck_adjustments_kind")),
        sa.CheckConstraint(
            "amount <> 0 AND (kind <> 'refund' OR amount > 0)", name=op.f("ck_adjustments_amount")
        ),
        sa.CheckConstraint(
            "num_nonnulls(trip_id, recharge_id) = 1", name=op.f("ck_adjustments_one_reference")
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected')", name=op.f("ck_adjustments_status")
        ),
        sa.CheckConstraint(
            "(status = 'proposed') = (decided_by IS NULL AND decided_at IS NULL)",
            name=op.f("ck_adjustments_decided_when_not_proposed"),
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (ledger_entry_id IS NOT NULL)",
            name=op.f("ck_adjustments_posted"),
        ),
        sa.CheckConstraint("decided_by <> proposed_by", name=op.f("ck_adjustments_four_eyes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
    )
    op.create_index("ix_adjustments_status_id", "adjustments", ["status", "id"])
    op.create_index("ix_adjustments_card_id_id", "adjustments", ["card_id", "id"])
    op.create_index(
        "ix_adjustments_trip_id",
        "adjustments",
        ["trip_id"],
        postgresql_where=sa.text("trip_id IS NOT NULL"),
    )
    op.create_index(
        "ix_adjustments_recharge_id",
        "adjustments",
        ["recharge_id"],
        postgresql_where=sa.text("recharge_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("adjustments")
