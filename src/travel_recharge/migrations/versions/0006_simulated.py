"""Simulated rows: the traffic simulator's riders, cards, points of sale and devices.

Users, cards, recharge points and accounts get a `simulated` flag (false for every existing
row: adding a column with a constant default rewrites no table). A simulated card's trips,
recharges and ledger entries are simulated with it. The rollups keep simulated taps in rows
of their own (the flag joins every key, see simulated_sql), so analytics leave them out
with a condition on the key; the ledger's append-only guard lets the simulator's clean-up
delete the entries of simulated cards, and nothing else.

Revision ID: 0006_simulated
Revises: 0005
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from travel_recharge.migrations import simulated_sql

revision: str = "0006_simulated"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGGED = ("users", "cards", "recharge_points", "accounts")
# Each rollup table and its key before this migration (the flag is appended to it).
ROLLUP_KEYS = {
    "rollup_totals": ("locality_code", "service_kind"),
    "rollup_hours": ("day", "hour", "service_kind"),
    "rollup_station_days": ("day", "station_id"),
}


def _flag() -> sa.Column[bool]:
    return sa.Column("simulated", sa.Boolean(), server_default=sa.text("false"), nullable=False)


def upgrade() -> None:
    for table in FLAGGED:
        op.add_column(table, _flag())
    # Partial indexes hold only the simulator's rows, which are few: built at once.
    op.create_index(
        "ix_users_simulated", "users", ["id"], unique=False, postgresql_where=sa.text("simulated")
    )
    op.create_index(
        "ix_cards_simulated", "cards", ["id"], unique=False, postgresql_where=sa.text("simulated")
    )

    op.add_column("rollup_deltas", _flag())
    for table, key in ROLLUP_KEYS.items():
        op.add_column(table, _flag())
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [*key, "simulated"])
    for column in ("simulated_users", "simulated_active_users"):
        op.add_column(
            "rollup_users",
            sa.Column(column, sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        )

    for statement in simulated_sql.FUNCTIONS:
        op.execute(statement)
    op.execute("DROP TRIGGER users_rollup ON users")
    op.execute(simulated_sql.USERS_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER users_rollup ON users")
    op.execute(simulated_sql.USERS_TRIGGER_BEFORE)
    for statement in simulated_sql.FUNCTIONS_BEFORE:
        op.execute(statement)

    for column in ("simulated_active_users", "simulated_users"):
        op.drop_column("rollup_users", column)
    # Simulated rows merge into the others' keys: they go, and the rebuild below recounts.
    for table, key in ROLLUP_KEYS.items():
        op.execute(f"DELETE FROM {table} WHERE simulated")  # noqa: S608  (constant names)
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_column(table, "simulated")
        op.create_primary_key(f"pk_{table}", table, list(key))
    op.drop_column("rollup_deltas", "simulated")

    op.drop_index("ix_cards_simulated", table_name="cards", postgresql_where=sa.text("simulated"))
    op.drop_index("ix_users_simulated", table_name="users", postgresql_where=sa.text("simulated"))
    for table in reversed(FLAGGED):
        op.drop_column(table, "simulated")
    # Without the flag the simulator's cards are cards like any other: count them everywhere.
    op.execute("SELECT rebuild_rollups()")
