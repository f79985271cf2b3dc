"""SQL of the cards feature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cards.numbers import card_number_for
from travel_recharge.fares import service as fares
from travel_recharge.finance import service as ledger
from travel_recharge.kit import idempotency
from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card, Recharge
from travel_recharge.network import service as network

# A recharge is the second hot write after the tap and takes the same road: two statements
# on the asyncpg connection itself (db.DriverTransaction), each one round trip once asyncpg
# has prepared it. The fragments of the tables other owners keep (idempotency records, the
# recharge point, the fare policy, the ledger) come from their owners.
RECHARGE_SCOPE = "recharge"

# 1. Claim the Idempotency-Key; only if this request is the first with it, lock the card
# and read the recharge point, the policy in force and a recharge id. The LATERAL joins on
# the claim make the claim happen first: a concurrent retry waits on the key, never holds
# the card while its original waits for it (no deadlock), and a replay locks nothing.
# (Built from constant fragments only; every value is a bind parameter.)
_LOCK_FOR_RECHARGE = f"""
WITH claim AS ({idempotency.claim_sql("$1", "$2", "$3")})
SELECT claim.key IS NOT NULL AS claimed,
       CASE WHEN claim.key IS NOT NULL THEN nextval('recharges_id_seq') END AS recharge_id,
       c.id AS card_id, c.status, c.balance, c.credit_trips_in_use,
       c.simulated AS card_simulated,
       p.id AS point_id, p.channel, p.active AS point_active, p.simulated AS point_simulated,
       f.id AS policy_id, f.version AS policy_version, f.document AS policy_document
FROM (SELECT 1) AS one
LEFT JOIN claim ON true
LEFT JOIN LATERAL (
    SELECT id, status, balance, credit_trips_in_use, simulated FROM cards
    WHERE id = $4 AND claim.key IS NOT NULL
    FOR UPDATE
) c ON true
LEFT JOIN LATERAL ({network.recharge_point_sql("$5")}) p ON claim.key IS NOT NULL
LEFT JOIN LATERAL ({fares.policy_in_force_sql("$6")}) f ON claim.key IS NOT NULL
"""  # noqa: S608

# 2. Everything the recharge writes, in one statement: the recharge, its ledger entries, the
# card's new balance and credit, and the stored answer for retries of its key.
_RECHARGE_ENTRIES = ledger.append_entries_sql(
    card_id="$2",
    kinds="$10",
    amounts="$11",
    balances_after="$12",
    recharge_id="(SELECT id FROM recharge)",
    account_id="$9",
)
_POST_RECHARGE = f"""
WITH recharge AS (
    INSERT INTO recharges (id, card_id, recharge_point_id, channel, amount, credit_repaid,
        new_balance, created_at, account_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING id
), entries AS (
    {_RECHARGE_ENTRIES}
), card AS (
    UPDATE cards SET balance = $7, credit_trips_in_use = $13 WHERE id = $2
), answer AS (
    {idempotency.remember_sql("$14", "$15", "$16", "$17")}
)
SELECT id FROM recharge
"""  # noqa: S608


def charge_for_tap_sql(*, card_id: str, balance: str, credit_trips_added: str, used_at: str) -> str:
    """The card's side of a tap as a CTE body for the trips feature's one-statement post: the
    balance after the fare, one more credit trip when the tap rode on credit, the last use.
    The arguments are SQL expressions of that statement (bind parameters), never values."""
    return (
        f"UPDATE cards SET balance = {balance},"  # noqa: S608
        f" credit_trips_in_use = credit_trips_in_use + {credit_trips_added},"
        f" last_used_at = greatest(last_used_at, {used_at}) WHERE id = {card_id}"
    )


def set_money_sql(*, card_id: str, balance: str, credit_trips_in_use: str, when: str) -> str:
    """The card's new balance and credit as a CTE body, written only when `when` holds; the
    arguments are SQL expressions of the statement, never values."""
    return (
        f"UPDATE cards SET balance = {balance},"  # noqa: S608
        f" credit_trips_in_use = {credit_trips_in_use} WHERE id = {card_id} AND {when}"
    )


async def insert_card(
    session: AsyncSession,
    *,
    card_type: str,
    user_id: int | None,
    profile: str | None,
    balance: int = 0,
    credit_trips_in_use: int = 0,
    simulated: bool = False,
) -> Card:
    # The card number is derived from the id, so the id is drawn before the insert.
    card_id = int(await session.scalar(text("SELECT nextval('cards_id_seq')")) or 0)
    await session.execute(
        insert(Card).values(
            id=card_id,
            card_number=card_number_for(card_id),
            card_type=card_type,
            user_id=user_id,
            profile=profile,
            balance=balance,
            credit_trips_in_use=credit_trips_in_use,
            simulated=simulated,
        )
    )
    card = await card_by_id(session, card_id)
    assert card is not None
    return card


async def card_by_id(session: ReadSession, card_id: int) -> Card | None:
    return await session.scalar(select(Card).where(Card.id == card_id))


async def card_owner(session: ReadSession, card_id: int) -> int | None:
    """The rider who owns the card (None: anonymous card, or no such card)."""
    return await session.scalar(select(Card.user_id).where(Card.id == card_id))


async def card_ids_of_user(session: ReadSession, user_id: int) -> list[int]:
    found = await session.scalars(select(Card.id).where(Card.user_id == user_id).order_by(Card.id))
    return list(found)


async def first_owner(session: AsyncSession) -> int | None:
    """The owner of the oldest active personalized card (a real rider, not the simulator's)."""
    return await session.scalar(
        select(Card.user_id)
        .where(Card.user_id.is_not(None), Card.status == "active", Card.simulated.is_(False))
        .order_by(Card.id)
        .limit(1)
    )


async def lock_card(session: AsyncSession, card_id: int) -> Card | None:
    """The card row, locked until the transaction ends: balance changes are serialized."""
    return await session.scalar(
        select(Card)
        .where(Card.id == card_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def user_has_card_in_use(session: AsyncSession, user_id: int) -> bool:
    found = await session.scalar(
        select(Card.id).where(Card.user_id == user_id, Card.status.in_(("active", "blocked")))
    )
    return found is not None


async def set_money(
    session: AsyncSession,
    card_id: int,
    *,
    balance: int,
    credit_trips_in_use: int,
    last_used_at: datetime | None = None,
) -> None:
    values: dict[str, object] = {"balance": balance, "credit_trips_in_use": credit_trips_in_use}
    if last_used_at is not None:
        # Late taps must not move last use backwards.
        values["last_used_at"] = func.greatest(Card.last_used_at, last_used_at)
    await session.execute(update(Card).where(Card.id == card_id).values(**values))


async def set_status(
    session: AsyncSession,
    card_id: int,
    status: str,
    reason: str | None,
    replaced_by: int | None = None,
) -> None:
    await session.execute(
        update(Card)
        .where(Card.id == card_id)
        .values(status=status, status_reason=reason, replaced_by_card_id=replaced_by)
    )


async def recharge_by_id(session: ReadSession, recharge_id: int) -> Recharge | None:
    return await session.scalar(select(Recharge).where(Recharge.id == recharge_id))


async def recharges_of_card(
    session: ReadSession, card_id: int, limit: int, offset: int
) -> Sequence[Recharge]:
    rows = await session.scalars(
        select(Recharge)
        .where(Recharge.card_id == card_id)
        .order_by(Recharge.created_at.desc(), Recharge.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


@dataclass(frozen=True)
class RechargeContext:
    """What the first recharge statement found (all None but `claimed` for a replay)."""

    claimed: bool
    recharge_id: int | None  # drawn in advance, so the stored answer can carry it
    card_id: int | None  # None: no such card
    status: str | None
    balance: int | None
    credit_trips_in_use: int | None
    card_simulated: bool | None  # the traffic simulator's card (see models.money)
    point_id: int | None  # None: no such recharge point
    channel: str | None
    point_active: bool | None
    point_simulated: bool | None
    policy_id: int | None  # None: no policy in force yet
    policy_version: str | None
    policy_document: str | None


@dataclass(frozen=True)
class PostedRecharge:
    """Every row a recharge writes, as the second statement writes it."""

    recharge_id: int
    card_id: int
    recharge_point_id: int
    channel: str
    amount: int
    credit_repaid: int
    new_balance: int
    credit_trips_in_use: int
    created_at: datetime
    account_id: int | None
    entries: Sequence[tuple[str, int, int]]  # (kind, amount, balance after), in order
    key: str
    answer: str  # the JSON body, stored for retries


async def lock_for_recharge(
    connection: asyncpg.Connection,
    *,
    key: str,
    request_hash: str,
    card_id: int,
    point_id: int,
    at: datetime,
) -> RechargeContext:
    row = await connection.fetchrow(
        _LOCK_FOR_RECHARGE, RECHARGE_SCOPE, key, request_hash, card_id, point_id, at
    )
    assert row is not None  # the query always returns its one row
    return RechargeContext(**row)


async def post_recharge(connection: asyncpg.Connection, posted: PostedRecharge) -> None:
    kinds, amounts, balances = zip(*posted.entries, strict=True) if posted.entries else ((), (), ())
    await connection.fetchval(
        _POST_RECHARGE,
        posted.recharge_id,
        posted.card_id,
        posted.recharge_point_id,
        posted.channel,
        posted.amount,
        posted.credit_repaid,
        posted.new_balance,
        posted.created_at,
        posted.account_id,
        list(kinds),
        list(amounts),
        list(balances),
        posted.credit_trips_in_use,
        RECHARGE_SCOPE,
        posted.key,
        201,
        posted.answer,
    )


async def stored_recharge(
    connection: asyncpg.Connection, key: str, request_hash: str
) -> idempotency.StoredAnswer:
    """The answer of the first recharge with `key` (the claim found it taken)."""
    return await idempotency.stored_answer(connection, RECHARGE_SCOPE, key, request_hash)
