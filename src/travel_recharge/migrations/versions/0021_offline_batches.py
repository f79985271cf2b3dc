"""Offline batches: the taps they charged uncovered, and the deny list by card.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offline_risks",
        sa.Column(
            "trip_id",
            sa.BigInteger(),
            sa.ForeignKey("trips.id", name=op.f("fk_offline_risks_trip_id_trips")),
            nullable=False,
        ),
        sa.Column(
            "card_id",
            sa.BigInteger(),
            sa.ForeignKey("cards.id", name=op.f("fk_offline_risks_card_id_cards")),
            nullable=False,
        ),
        sa.Column("validator_id", sa.String(length=64), nullable=False),
        sa.Column("fare_charged", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("trip_id", name=op.f("pk_offline_risks")),
    )
    # A batch asks, per tap, whether its card was refused at the tap's event time.
    op.create_index(
        "ix_deny_list_changes_card_id_version", "deny_list_changes", ["card_id", "version"]
    )


def downgrade() -> None:
    op.drop_index("ix_deny_list_changes_card_id_version", table_name="deny_list_changes")
    op.drop_table("offline_risks")
