"""SQL of the offline risk report."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import OfflineRisk


async def offline_risks(
    session: ReadSession, card_id: int | None, limit: int, offset: int
) -> Sequence[OfflineRisk]:
    query = select(OfflineRisk).order_by(OfflineRisk.trip_id.desc()).limit(limit).offset(offset)
    if card_id is not None:
        query = query.where(OfflineRisk.card_id == card_id)
    return (await session.scalars(query)).all()
