"""Where trips went: origin-destination counts by trip chaining, and transfer flows.

Written by the flows job (analytics/flows/job.py) per finished local day. Transfers between
service kinds are kept per day and time band (a handful of rows a day). Trips between
localities and stations, pairs of lines and transfer places (up to tens of thousands of keys
a day in a big city) are kept as cumulative series, one row per key and band with an array of
running totals per day since the series' first day, so the sum over any range of days is two
array elements a key (flows/series.py) instead of a row per key and day. The pairs of lines
(the most keys) keep the whole day in a table of their own, so the default answer scans only
its rows.

The tables start empty; the job fills the finished days of existing trips on its first run.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The running totals from element k on, moved by delta (a day recounted: every later total
# moves with it). Arrays are 1-based from the series' first day.
SHIFT = """
CREATE FUNCTION flow_shift(totals integer[], k integer, delta integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN delta = 0 THEN totals ELSE
        totals[1:k - 1] || ARRAY(
            SELECT x + delta FROM unnest(totals[k:array_upper(totals, 1)]) WITH ORDINALITY
            AS u(x, o) ORDER BY o)
    END
$$
"""


# Every row of a series is rewritten each counted day: pages kept half empty let PostgreSQL
# put the new version beside the old and prune the old on the page (a HOT update), so the
# table does not grow by a copy of itself per day between vacuums.
SERIES_FILLFACTOR = 50


def _table(
    name: str,
    *columns: sa.Column,  # type: ignore[type-arg]
    key: tuple[str, ...],
    fillfactor: int | None = None,
) -> None:
    options: dict[str, Any] = {}
    if fillfactor is not None:
        options["postgresql_with"] = {"fillfactor": fillfactor}
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"), **options)


def _band() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("band", sa.String(8), nullable=False)


def _totals(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, postgresql.ARRAY(sa.Integer()), nullable=False)


def upgrade() -> None:
    op.create_table(
        "od_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("trips", sa.BigInteger(), nullable=False),
        sa.Column("inferred_at", sa.DateTime(timezone=True), nullable=False),
    )
    _table(
        "transfer_kinds",
        sa.Column("day", sa.Date(), nullable=False),
        _band(),
        sa.Column("from_kind", sa.String(10), nullable=False),
        sa.Column("to_kind", sa.String(10), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        key=("day", "band", "from_kind", "to_kind"),
    )
    op.create_table(
        "flow_series_state",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_flow_series_state_one_row"),
    )
    _table(
        "od_locality_series",
        _band(),
        sa.Column("origin", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(2), nullable=False),
        sa.Column("how", sa.String(8), nullable=False),
        _totals("trips"),
        key=("band", "origin", "destination", "how"),
        fillfactor=SERIES_FILLFACTOR,
    )
    _table(
        "od_station_series",
        _band(),
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        _totals("observed"),
        _totals("inferred"),
        key=("band", "origin_id", "destination_id"),
        fillfactor=SERIES_FILLFACTOR,
    )
    # The whole day's pairs of lines in a table of their own, shaped like the bands' one.
    for name in ("transfer_line_series", "transfer_line_day_series"):
        _table(
            name,
            _band(),
            sa.Column("from_kind", sa.String(10), nullable=False),
            sa.Column("from_line", sa.String(20), nullable=False),
            sa.Column("to_kind", sa.String(10), nullable=False),
            sa.Column("to_line", sa.String(20), nullable=False),
            _totals("transfers"),
            key=("band", "from_kind", "from_line", "to_kind", "to_line"),
            fillfactor=SERIES_FILLFACTOR,
        )
    _table(
        "transfer_place_series",
        _band(),
        sa.Column("station_id", sa.Integer(), nullable=False),
        _totals("transfers"),
        key=("band", "station_id"),
        fillfactor=SERIES_FILLFACTOR,
    )
    op.execute(SHIFT)


def downgrade() -> None:
    op.execute("DROP FUNCTION flow_shift(integer[], integer, integer)")
    for name in (
        "transfer_place_series",
        "transfer_line_day_series",
        "transfer_line_series",
        "od_station_series",
        "od_locality_series",
        "flow_series_state",
        "transfer_kinds",
        "od_days",
    ):
        op.drop_table(name)
