"""Token revocations: one token, or every token of an account issued before a time.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        # No foreign keys (models.accounts.TokenRevocation says why).
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("issued_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "revoked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(token_id IS NULL) <> (issued_before IS NULL)",
            name=op.f("ck_token_revocations_one_token_or_all_before"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_revocations")),
    )
    # Workers load the revocations still in force, every second.
    op.create_index("ix_token_revocations_expires_at", "token_revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("token_revocations")
