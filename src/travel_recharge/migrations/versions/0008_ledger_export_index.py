"""Ledger entries that are not fares, by time: the TIDES export reads them by range.

Fares are exported from trips by event time (ix_trips_event_time); recharges, credit
repayments, balance transfers and adjustments come from the ledger by created_at. Without
an index an export of one day scans the whole ledger. The index is partial: fares are most
of the ledger and every tap writes one, and a tap never touches an index whose condition
its row does not meet.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_ledger_entries_created_at_not_fare"


def upgrade() -> None:
    # As in 0005: CONCURRENTLY keeps recharges writing during the build on a large ledger,
    # and a failed concurrent build leaves an invalid index that a retry drops first.
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.create_index(
            INDEX,
            "ledger_entries",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("kind <> 'fare'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="ledger_entries", postgresql_concurrently=True)
