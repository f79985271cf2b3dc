"""Boardings per station by local hour and by quarter hour (station performance).

The two rollups are folded like the others (station_sql). Existing trips reach them through
rebuild_rollups(), which recounts every rollup from the trips under the folder's lock: a scan
of `trips`, once (about a minute at ten million trips).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from travel_recharge.migrations import station_sql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rollup(name: str, period: str) -> None:
    op.create_table(
        name,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column(period, sa.SmallInteger(), nullable=False),
        sa.Column("simulated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("trips", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("day", "station_id", period, "simulated", name=f"pk_{name}"),
    )


def upgrade() -> None:
    _rollup("rollup_station_hours", "hour")
    _rollup("rollup_station_quarters", "quarter")
    for statement in station_sql.FUNCTIONS:
        op.execute(statement)
    op.execute("SELECT rebuild_rollups()")


def downgrade() -> None:
    for statement in station_sql.FUNCTIONS_BEFORE:
        op.execute(statement)
    op.drop_table("rollup_station_quarters")
    op.drop_table("rollup_station_hours")
