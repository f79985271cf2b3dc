"""Device bindings and acting accounts: who may act as which device, and who made each row.

A validator account is bound to the one validator_id its taps must name, a recharge point
account to its recharge point. Device accounts made before this have no binding and cannot
be given one safely (nothing says which device they are), so they are deactivated: an admin
makes bound accounts for the devices. Trips, recharges and ledger entries record the account
whose request made them.

The account_id foreign keys are added NOT VALID and validated after the commit: validating
scans the (large) trips and ledger tables, which then holds off no tap.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006_simulated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTED_TABLES = ("trips", "recharges", "ledger_entries")


def _account_fk(table: str) -> str:
    return f"fk_{table}_account_id_accounts"


def upgrade() -> None:
    op.add_column("accounts", sa.Column("validator_id", sa.String(length=64), nullable=True))
    op.add_column("accounts", sa.Column("recharge_point_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_accounts_recharge_point_id_recharge_points"),
        "accounts",
        "recharge_points",
        ["recharge_point_id"],
        ["id"],
    )
    op.execute("UPDATE accounts SET active = false WHERE role IN ('validator', 'recharge_point')")
    op.create_check_constraint(
        op.f("ck_accounts_binding_matches_role"),
        "accounts",
        "(validator_id IS NULL OR role = 'validator')"
        " AND (recharge_point_id IS NULL OR role = 'recharge_point')",
    )
    op.create_check_constraint(
        op.f("ck_accounts_active_devices_bound"),
        "accounts",
        "NOT active OR (role <> 'validator' OR validator_id IS NOT NULL)"
        " AND (role <> 'recharge_point' OR recharge_point_id IS NOT NULL)",
    )
    for table in ACTED_TABLES:
        # A nullable column without a default: a catalog change, no table rewrite.
        op.add_column(table, sa.Column("account_id", sa.BigInteger(), nullable=True))
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_account_fk(table)}"
            " FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID"
        )
    with op.get_context().autocommit_block():
        for table in ACTED_TABLES:
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {_account_fk(table)}")


def downgrade() -> None:
    for table in ACTED_TABLES:
        op.drop_constraint(_account_fk(table), table, type_="foreignkey")
        op.drop_column(table, "account_id")
    op.drop_constraint(op.f("ck_accounts_active_devices_bound"), "accounts", type_="check")
    op.drop_constraint(op.f("ck_accounts_binding_matches_role"), "accounts", type_="check")
    op.drop_constraint(
        op.f("fk_accounts_recharge_point_id_recharge_points"), "accounts", type_="foreignkey"
    )
    op.drop_column("accounts", "recharge_point_id")
    op.drop_column("accounts", "validator_id")
