"""SQL of the ledger."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card, LedgerEntry


async def append(
    session: AsyncSession,
    *,
    card_id: int,
    kind: str,
    amount: int,
    balance_after: int,
    recharge_id: int | None = None,
    trip_id: int | None = None,
    counterpart_card_id: int | None = None,
    note: str | None = None,
    account_id: int | None = None,
) -> int:
    entry_id = await session.scalar(
        insert(LedgerEntry)
        .values(
            card_id=card_id,
            kind=kind,
            amount=amount,
            balance_after=balance_after,
            recharge_id=recharge_id,
            trip_id=trip_id,
            counterpart_card_id=counterpart_card_id,
            note=note,
            account_id=account_id,
        )
        .returning(LedgerEntry.id)
    )
    assert entry_id is not None
    return int(entry_id)


def append_entries_sql(
    *,
    card_id: str,
    kinds: str,
    amounts: str,
    balances_after: str,
    recharge_id: str = "NULL",
    trip_id: str = "NULL",
    account_id: str = "NULL",
) -> str:
    """One card's ledger entries as a CTE body for a driver-level statement that also writes
    the balance they explain (a recharge, a tap). kinds/amounts/balances_after are parallel arrays;
    entries get their ids in array order, so the last one carries the card's balance. The
    arguments are SQL expressions of that statement (bind parameters, CTE columns), never
    values."""
    return (
        "INSERT INTO ledger_entries (card_id, kind, amount, balance_after, recharge_id,"  # noqa: S608
        " trip_id, account_id)"
        f" SELECT {card_id}, e.kind, e.amount, e.balance_after, {recharge_id}, {trip_id},"
        f" {account_id}"
        f" FROM unnest({kinds}::text[], {amounts}::bigint[], {balances_after}::bigint[])"
        " WITH ORDINALITY AS e(kind, amount, balance_after, n) ORDER BY e.n"
    )


def append_entry_sql(
    *,
    card_id: str,
    kind: str,
    amount: str,
    balance_after: str,
    trip_id: str,
    note: str,
    account_id: str,
    when: str,
) -> str:
    """One ledger entry as a CTE body returning its id, written only when `when` (an SQL
    condition) holds; the arguments are SQL expressions of the statement, never values."""
    return (
        "INSERT INTO ledger_entries (card_id, kind, amount, balance_after, trip_id, note,"
        f" account_id) SELECT {card_id}, {kind}, {amount}, {balance_after}, {trip_id}, {note},"
        f" {account_id} WHERE {when} RETURNING id"
    )


async def entries_of_card(
    session: ReadSession, card_id: int, limit: int, offset: int
) -> Sequence[LedgerEntry]:
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.card_id == card_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


async def mismatched_cards(session: ReadSession) -> list[tuple[int, int, int, int | None]]:
    """Cards whose stored balance differs from their ledger sum or last balance_after."""
    sums = (
        select(
            LedgerEntry.card_id,
            func.sum(LedgerEntry.amount).label("ledger_sum"),
            func.max(LedgerEntry.id).label("last_entry_id"),
        )
        .group_by(LedgerEntry.card_id)
        .subquery()
    )
    last = LedgerEntry.__table__.alias("last_entry")
    ledger_sum = func.coalesce(sums.c.ledger_sum, 0)
    query = (
        select(Card.id, Card.balance, ledger_sum, last.c.balance_after)
        .outerjoin(sums, sums.c.card_id == Card.id)
        .outerjoin(last, last.c.id == sums.c.last_entry_id)
        .where(
            (Card.balance != ledger_sum) | (Card.balance != func.coalesce(last.c.balance_after, 0))
        )
        .order_by(Card.id)
    )
    result = await session.execute(query)
    return [(card_id, balance, int(total), last) for card_id, balance, total, last in result.all()]


async def count_cards(session: ReadSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Card)) or 0)
