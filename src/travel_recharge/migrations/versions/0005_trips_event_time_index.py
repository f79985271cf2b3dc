"""Trips by time: an index on event_time carrying card_id, for the live dashboard.

Taps per minute (count by minute) and the cards active today (distinct card_id since local
midnight) both read a time range of trips; with card_id in the index both are index-only
scans of that range instead of scans of the whole table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 11:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_trips_event_time"


def upgrade() -> None:
    # trips is the table every tap writes: a plain CREATE INDEX would hold off taps for the
    # whole build on a large table, CONCURRENTLY does not (it cannot run in a transaction).
    # A concurrent build that failed leaves an invalid index behind under the same name, so
    # a retry drops whatever is there first (0005 is not recorded yet, so nothing valid is).
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.create_index(
            INDEX,
            "trips",
            ["event_time"],
            unique=False,
            postgresql_include=["card_id"],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="trips", postgresql_concurrently=True)
