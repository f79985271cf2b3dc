"""SQL of the fares feature: the versioned fare-policy rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.models import FarePolicyRow


async def policy_row_at(session: AsyncSession, at: datetime) -> FarePolicyRow | None:
    return await session.scalar(
        select(FarePolicyRow)
        .where(FarePolicyRow.effective_from <= at)
        .order_by(FarePolicyRow.effective_from.desc())
        .limit(1)
    )


async def all_policy_rows(session: AsyncSession) -> list[FarePolicyRow]:
    rows = await session.scalars(select(FarePolicyRow).order_by(FarePolicyRow.effective_from))
    return list(rows)
