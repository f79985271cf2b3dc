"""Where trips went: origin-destination counts by trip chaining, and transfer flows.

Per finished local day and time band, written by the flows job (analytics/flows/job.py). The
tables start empty; the job fills the finished days of existing trips on its first run.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _per_day_band(name: str, count: str, *key: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        *key,
        sa.Column(count, sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "band", *(c.name for c in key), name=f"pk_{name}"),
    )


def upgrade() -> None:
    op.create_table(
        "od_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("trips", sa.BigInteger(), nullable=False),
        sa.Column("inferred_at", sa.DateTime(timezone=True), nullable=False),
    )
    _per_day_band(
        "od_localities",
        "trips",
        sa.Column("origin", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(2), nullable=False),
        sa.Column("how", sa.String(8), nullable=False),
    )
    _per_day_band(
        "od_stations",
        "trips",
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("how", sa.String(8), nullable=False),
    )
    _per_day_band(
        "transfer_lines",
        "transfers",
        sa.Column("from_kind", sa.String(10), nullable=False),
        sa.Column("from_line", sa.String(20), nullable=False),
        sa.Column("to_kind", sa.String(10), nullable=False),
        sa.Column("to_line", sa.String(20), nullable=False),
    )
    _per_day_band(
        "transfer_places",
        "transfers",
        sa.Column("station_id", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for name in ("transfer_places", "transfer_lines", "od_stations", "od_localities", "od_days"):
        op.drop_table(name)
