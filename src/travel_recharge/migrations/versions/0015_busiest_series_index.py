"""The busiest keys of a flow series without scanning it: an index on each key's total over
every day the series holds.

A key's total over any range of days is at most its total over all of them (the counts are
never negative), so the busiest keys of a range are found among the keys busiest overall:
analytics/flows/series.py reads them down this index until no key further down can enter the
answer. The 14-day pairs of lines at 10 million trips scanned ~70,000 rows per answer before.
The totals change every counted day, so these tables' updates are no longer HOT: the daily job
writes the index entries once a day.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table and its arrays of running totals (the last element is the total of every day).
SERIES = {
    "od_station_series": ("observed", "inferred"),
    "transfer_line_series": ("transfers",),
    "transfer_line_day_series": ("transfers",),
    "transfer_place_series": ("transfers",),
}


def upgrade() -> None:
    for table, totals in SERIES.items():
        grand = " + ".join(f"{total}[cardinality({total})]" for total in totals)
        op.create_index(f"ix_{table}_busiest", table, ["band", sa.text(f"({grand}) DESC")])


def downgrade() -> None:
    for table in SERIES:
        op.drop_index(f"ix_{table}_busiest", table_name=table)
