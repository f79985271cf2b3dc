"""SQL of adjustments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Adjustment


async def add(
    session: AsyncSession,
    *,
    card_id: int,
    kind: str,
    amount: int,
    reason: str,
    trip_id: int | None,
    recharge_id: int | None,
    proposed_by: int,
    proposed_at: datetime,
) -> Adjustment:
    row: Adjustment | None = await session.scalar(
        insert(Adjustment)
        .values(
            card_id=card_id,
            kind=kind,
            amount=amount,
            reason=reason,
            trip_id=trip_id,
            recharge_id=recharge_id,
            proposed_by=proposed_by,
            proposed_at=proposed_at,
        )
        .returning(Adjustment)
    )
    assert row is not None
    return row


async def lock(session: AsyncSession, adjustment_id: int) -> Adjustment | None:
    """The adjustment, locked until the transaction ends: it is decided once."""
    return await session.scalar(
        select(Adjustment)
        .where(Adjustment.id == adjustment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def by_id(session: ReadSession, adjustment_id: int) -> Adjustment | None:
    return await session.scalar(select(Adjustment).where(Adjustment.id == adjustment_id))


async def listed(
    session: ReadSession, *, status: str | None, card_id: int | None, limit: int, offset: int
) -> Sequence[Adjustment]:
    query = select(Adjustment).order_by(Adjustment.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Adjustment.status == status)
    if card_id is not None:
        query = query.where(Adjustment.card_id == card_id)
    return (await session.scalars(query)).all()


async def refunded(session: AsyncSession, *, trip_id: int | None, recharge_id: int | None) -> int:
    """The pesos of the approved refunds of one trip or one recharge."""
    reference = (
        Adjustment.trip_id == trip_id
        if trip_id is not None
        else Adjustment.recharge_id == recharge_id
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(Adjustment.amount), 0)).where(
            reference, Adjustment.kind == "refund", Adjustment.status == "approved"
        )
    )
    return int(total or 0)


async def decide(
    session: AsyncSession,
    adjustment_id: int,
    *,
    status: str,
    decided_by: int,
    decided_at: datetime,
    note: str | None,
    ledger_entry_id: int | None,
) -> Adjustment:
    row: Adjustment | None = await session.scalar(
        update(Adjustment)
        .where(Adjustment.id == adjustment_id)
        .values(
            status=status,
            decided_by=decided_by,
            decided_at=decided_at,
            decision_note=note,
            ledger_entry_id=ledger_entry_id,
        )
        .returning(Adjustment)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row
