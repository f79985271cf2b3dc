"""Rider behaviour: each card's trips per finished local day, and each day's figures.

Written by the daily job (analytics/flows/job.py) with the trip flows: `rider_days` holds one
row per card and day it rode (the last eight weeks: the figures look back four), and
`rider_snapshots` one row per day with that day's figures as JSON, so the endpoint reads one
row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rider_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("trips", sa.SmallInteger(), nullable=False),
        sa.Column("transfers", sa.SmallInteger(), nullable=False),
        sa.Column("credit_trips", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "card_id", name="pk_rider_days"),
    )
    op.create_table(
        "rider_snapshots",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("answer", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rider_snapshots")
    op.drop_table("rider_days")
