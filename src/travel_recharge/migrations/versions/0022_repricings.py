"""Repricings: what a late tap changed in the later taps of its card, settled by the ledger.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _reference(column: str, table: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        column,
        sa.BigInteger(),
        sa.ForeignKey(f"{table}.id", name=op.f(f"fk_repricings_{column}_{table}")),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "repricings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        _reference("card_id", "cards"),
        _reference("late_trip_id", "trips"),
        _reference("trip_id", "trips"),
        sa.Column("fare_was", sa.BigInteger(), nullable=False),
        sa.Column("fare_now", sa.BigInteger(), nullable=False),
        sa.Column("fare_kind_now", sa.String(length=14), nullable=False),
        _reference("ledger_entry_id", "ledger_entries", nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repricings")),
    )
    # Every tap's history asks for its trips' latest repricing.
    op.create_index("ix_repricings_trip_id_id", "repricings", ["trip_id", "id"])


def downgrade() -> None:
    op.drop_table("repricings")
