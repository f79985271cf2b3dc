"""Accounts for tokens: people and devices, with argon2 secret hashes and one role each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("login ~ '^[A-Za-z0-9._@-]{3,64}$'", name=op.f("ck_accounts_login")),
        sa.CheckConstraint("kind IN ('person', 'client')", name=op.f("ck_accounts_kind")),
        sa.CheckConstraint(
            "role IN ('rider', 'validator', 'recharge_point', 'analyst', 'operator', 'admin')",
            name=op.f("ck_accounts_role"),
        ),
        sa.CheckConstraint(
            "(role = 'rider') = (user_id IS NOT NULL)", name=op.f("ck_accounts_rider_iff_user")
        ),
        sa.CheckConstraint(
            "role <> 'rider' OR kind = 'person'", name=op.f("ck_accounts_riders_are_people")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_accounts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_accounts_login")),
    )


def downgrade() -> None:
    op.drop_table("accounts")
