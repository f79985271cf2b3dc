"""GET /api/v1/fares: the policy in force and its history."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from travel_recharge.cache import CacheDep
from travel_recharge.config import SettingsDep
from travel_recharge.db import ReadSessionDep
from travel_recharge.fares import service
from travel_recharge.fares.schemas import FaresOut

router = APIRouter(prefix="/api/v1/fares", tags=["fares"])


@router.get("", response_model=FaresOut)
async def fares(session: ReadSessionDep, cache: CacheDep, settings: SettingsDep) -> Response:
    """The fare policy in force now and every version, oldest first."""

    async def load() -> bytes:
        overview = await service.fares_overview(session, datetime.now(UTC))
        return overview.model_dump_json().encode()

    body = await cache.read_through("fares", "overview", settings.cache_ttl_fares_s, load)
    return Response(content=body, media_type="application/json")
