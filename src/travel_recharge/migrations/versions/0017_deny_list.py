"""The deny list: every change of a card between usable and refused, numbered in commit order.

Validators that lose their link keep tapping on their own; what they know of blocked cards is
a list they download, then only the changes since their version. A trigger on cards records
each change, so no path that changes a card's status (block, unblock, replace, the
simulator's clean-up, SQL by hand) can forget it.

Versions must grow in commit order, or a validator could sync between two commits and skip a
change forever: a change numbered 10 committing after one numbered 11 that it already saw.
The trigger takes a transaction-wide advisory lock before numbering its change, so changes
are numbered one transaction at a time, and the lock is released only after the commit is
visible. Status changes are rare operator actions; taps and recharges never set the status.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Numbering deny list changes one transaction at a time (the key is 'deny' in ASCII).
TAKE_LOCK = "PERFORM pg_advisory_xact_lock(1684369017);"

RECORD_CHANGE = """
CREATE FUNCTION record_deny_list_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_denied boolean := TG_OP <> 'INSERT' AND OLD.status <> 'active';
    is_denied boolean := TG_OP <> 'DELETE' AND NEW.status <> 'active';
BEGIN
    IF was_denied IS DISTINCT FROM is_denied THEN
        PERFORM pg_advisory_xact_lock(1684369017);
        INSERT INTO deny_list_changes (card_id, denied)
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, is_denied);
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGER = """
CREATE TRIGGER cards_deny_list AFTER INSERT OR DELETE OR UPDATE OF status ON cards
FOR EACH ROW EXECUTE FUNCTION record_deny_list_change()
"""


def upgrade() -> None:
    op.create_table(
        "deny_list_changes",
        sa.Column("version", sa.BigInteger(), nullable=False),
        # No foreign key: the change that takes a deleted card off the list outlives it.
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.Column("denied", sa.Boolean(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_deny_list_changes")),
    )
    # A snapshot lists the refused cards: a few percent of them, found without a scan.
    op.create_index(
        "ix_cards_denied", "cards", ["id"], postgresql_where=sa.text("status <> 'active'")
    )
    # The cards refused today are the list's first changes.
    op.execute(
        "INSERT INTO deny_list_changes (card_id, denied) "
        "SELECT id, true FROM cards WHERE status <> 'active' ORDER BY id"
    )
    op.execute(RECORD_CHANGE)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER cards_deny_list ON cards")
    op.execute("DROP FUNCTION record_deny_list_change()")
    op.drop_index("ix_cards_denied", table_name="cards")
    op.drop_table("deny_list_changes")
