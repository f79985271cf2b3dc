"""SQL of the revenue forecast: its stored answer and the lock of its fit (the daily revenue it
is fitted on is analytics.repository.by_day's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import RevenueForecastRow

# One fit at a time across workers and machines: the job holds this session lock while it
# fits (a job that finds it taken leaves; the lock goes with its connection).
_FIT_LOCK = 7_242_011


async def try_fit_lock(connection: AsyncConnection) -> bool:
    return bool(
        (
            await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _FIT_LOCK})
        ).scalar_one()
    )


async def fitted_at(connection: AsyncConnection) -> datetime | None:
    query = select(RevenueForecastRow.fitted_at).where(RevenueForecastRow.id == 1)
    return (await connection.execute(query)).scalar_one_or_none()


async def store(connection: AsyncConnection, answer: str, at: datetime) -> None:
    statement = insert(RevenueForecastRow).values(id=1, fitted_at=at, answer=answer)
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=[RevenueForecastRow.id],
            set_={"fitted_at": statement.excluded.fitted_at, "answer": statement.excluded.answer},
        )
    )


async def stored_answer(session: ReadSession) -> str | None:
    query = select(RevenueForecastRow.answer).where(RevenueForecastRow.id == 1)
    return (await session.execute(query)).scalar_one_or_none()
