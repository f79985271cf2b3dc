"""SQL of web recharges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.finance import service as ledger
from travel_recharge.kit.db import ReadSession
from travel_recharge.models import WebRecharge


def has_pending_sql(card_id: str) -> str:
    """Whether the card has a pending web recharge, as a column of the tap's first statement
    (a probe of a partial index that holds only pending ones); `card_id` is an SQL
    expression of that statement."""
    return (
        f"EXISTS (SELECT FROM web_recharges w WHERE w.card_id = {card_id} AND w.status = 'pending')"
    )


async def add(
    session: AsyncSession,
    *,
    card_id: int,
    point_id: int,
    amount: int,
    paid_at: datetime,
    expires_at: datetime,
    account_id: int | None,
) -> WebRecharge:
    row: WebRecharge | None = await session.scalar(
        insert(WebRecharge)
        .values(
            card_id=card_id,
            recharge_point_id=point_id,
            amount=amount,
            paid_at=paid_at,
            expires_at=expires_at,
            account_id=account_id,
        )
        .returning(WebRecharge)
    )
    assert row is not None
    return row


async def pending_total(session: ReadSession, card_id: int, now: datetime) -> int:
    """The pesos of the card's web recharges still to be posted (not expired by `now`)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(WebRecharge.amount), 0)).where(
            WebRecharge.card_id == card_id,
            WebRecharge.status == "pending",
            WebRecharge.expires_at > now,
        )
    )
    return int(total or 0)


async def of_card(
    session: ReadSession, card_id: int, limit: int, offset: int
) -> Sequence[WebRecharge]:
    rows = await session.scalars(
        select(WebRecharge)
        .where(WebRecharge.card_id == card_id)
        .order_by(WebRecharge.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


async def expire_due(session: AsyncSession, now: datetime) -> list[tuple[int, int, int]]:
    """Expire every pending web recharge due by `now`: (id, card, amount) of each. A sweep
    running at once in another worker waits on the rows, then finds them expired."""
    rows = await session.execute(
        update(WebRecharge)
        .where(WebRecharge.status == "pending", WebRecharge.expires_at <= now)
        .values(status="expired", expired_at=now)
        .returning(WebRecharge.id, WebRecharge.card_id, WebRecharge.amount)
    )
    return [(int(i), int(card), int(amount)) for i, card, amount in rows]


@dataclass(frozen=True)
class Pending:
    id: int
    amount: int
    point_id: int
    expires_at: datetime
    account_id: int | None


# Locked in the order they were paid, which is the order they post in. The tap holds the
# card already; the sweep locks these rows and no card, so the two never wait on each other
# in a circle.
_LOCK_PENDING = """
SELECT id, amount, recharge_point_id AS point_id, expires_at, account_id FROM web_recharges
WHERE card_id = $1 AND status = 'pending' ORDER BY id FOR UPDATE
"""

_ENTRIES = ledger.append_entries_sql(
    card_id="$2",
    kinds="$9",
    amounts="$10",
    balances_after="$11",
    recharge_id="(SELECT id FROM recharge)",
    account_id="$8",
)
# One web recharge becomes a recharge (channel 'web'): the recharge, its ledger entries, the
# card's balance and credit, and the web recharge marked posted with the recharge it became.
_POST = f"""
WITH recharge AS (
    INSERT INTO recharges (card_id, recharge_point_id, channel, amount, credit_repaid,
        new_balance, created_at, account_id)
    VALUES ($2, $3, 'web', $4, $5, $6, $7, $8)
    RETURNING id
), entries AS (
    {_ENTRIES}
), card AS (
    UPDATE cards SET balance = $6, credit_trips_in_use = $12 WHERE id = $2
), web AS (
    UPDATE web_recharges SET status = 'posted', posted_at = $7,
        recharge_id = (SELECT id FROM recharge), validator_id = $13
    WHERE id = $1
)
SELECT id FROM recharge
"""  # noqa: S608


async def lock_pending(connection: asyncpg.Connection, card_id: int) -> list[Pending]:
    rows = await connection.fetch(_LOCK_PENDING, card_id)
    return [Pending(**row) for row in rows]


@dataclass(frozen=True)
class Posting:
    """Every row one web recharge's posting writes."""

    web_recharge_id: int
    card_id: int
    point_id: int
    amount: int
    credit_repaid: int
    new_balance: int
    posted_at: datetime
    account_id: int | None
    entries: Sequence[tuple[str, int, int]]  # (kind, amount, balance after), in order
    credit_trips_in_use: int
    validator_id: str


async def post(connection: asyncpg.Connection, posting: Posting) -> int:
    """Post one web recharge; the id of the recharge it became."""
    kinds, amounts, balances = zip(*posting.entries, strict=True)
    recharge_id = await connection.fetchval(
        _POST,
        posting.web_recharge_id,
        posting.card_id,
        posting.point_id,
        posting.amount,
        posting.credit_repaid,
        posting.new_balance,
        posting.posted_at,
        posting.account_id,
        list(kinds),
        list(amounts),
        list(balances),
        posting.credit_trips_in_use,
        posting.validator_id,
    )
    return int(recharge_id)
