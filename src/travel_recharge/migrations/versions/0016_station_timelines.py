"""A station's day as one row: its boardings by hour and by quarter hour as arrays.

Replaces migration 0012's rows per hour and per quarter hour (timeline_sql says why): the
existing counts move over, the folder writes the new table from here on.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from travel_recharge.migrations import station_sql, timeline_sql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_station_timelines",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("simulated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("hours", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("quarters", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "station_id", "simulated", name="pk_rollup_station_timelines"
        ),
    )
    for statement in (*timeline_sql.HELPERS, *timeline_sql.FUNCTIONS):
        op.execute(statement)
    op.execute(timeline_sql.FROM_ROWS)
    op.drop_table("rollup_station_quarters")
    op.drop_table("rollup_station_hours")


def downgrade() -> None:
    for period in ("hour", "quarter"):
        op.create_table(
            f"rollup_station_{period}s",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("station_id", sa.Integer(), nullable=False),
            sa.Column(period, sa.SmallInteger(), nullable=False),
            sa.Column("simulated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
            sa.Column("trips", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
            sa.PrimaryKeyConstraint(
                "day", "station_id", period, "simulated", name=f"pk_rollup_station_{period}s"
            ),
        )
        op.execute(timeline_sql.TO_ROWS.format(period=period))
    for statement in station_sql.FUNCTIONS:
        op.execute(statement)
    op.drop_table("rollup_station_timelines")
    for statement in timeline_sql.DROP_HELPERS:
        op.execute(statement)
