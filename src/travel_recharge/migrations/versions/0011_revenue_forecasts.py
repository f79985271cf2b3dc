"""The revenue forecast's last answer: one row, replaced by the forecast job at most hourly.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revenue_forecasts",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_revenue_forecasts_one_row"),
    )


def downgrade() -> None:
    op.drop_table("revenue_forecasts")
