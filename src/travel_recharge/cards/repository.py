"""SQL of the cards feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cards.numbers import card_number_for
from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card, Recharge


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


async def insert_recharge(
    session: AsyncSession,
    *,
    card_id: int,
    recharge_point_id: int,
    channel: str,
    amount: int,
    credit_repaid: int,
    new_balance: int,
    created_at: datetime,
    account_id: int | None,
) -> Recharge:
    recharge = Recharge(
        card_id=card_id,
        recharge_point_id=recharge_point_id,
        channel=channel,
        amount=amount,
        credit_repaid=credit_repaid,
        new_balance=new_balance,
        created_at=created_at,
        account_id=account_id,
    )
    session.add(recharge)
    await session.flush()
    return recharge


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
