"""Cards by their owner: a rider's monthly benefit trips are counted over all their cards.

A personalized card replaced mid-month must not bring a fresh month of free trips with it, so
the tap counts the benefit trips of every card of the same person (the lost card's and the
new one's). The unique index on user_id holds only cards in use (active or blocked); this one
holds every personalized card, replaced ones too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_cards_user_id"


def upgrade() -> None:
    # As in 0005 and 0008: CONCURRENTLY keeps taps and recharges writing during the build on a
    # large cards table, and a failed concurrent build leaves an invalid index a retry drops.
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.create_index(
            INDEX,
            "cards",
            ["user_id"],
            unique=False,
            postgresql_where=sa.text("user_id IS NOT NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="cards", postgresql_concurrently=True)
