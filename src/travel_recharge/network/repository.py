"""SQL of the network feature."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.models import RechargePoint, Route, Station


async def station_by_id(session: AsyncSession, station_id: int) -> Station | None:
    return await session.scalar(select(Station).where(Station.id == station_id))


async def route_by_code(session: AsyncSession, code: str) -> Route | None:
    return await session.scalar(select(Route).where(Route.code == code))


async def recharge_point_by_id(session: AsyncSession, point_id: int) -> RechargePoint | None:
    return await session.scalar(select(RechargePoint).where(RechargePoint.id == point_id))
