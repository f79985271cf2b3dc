"""GET /api/v1/fares: the policy in force and its history."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from travel_recharge.fares import service
from travel_recharge.fares.schemas import FaresOut
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import ReadSessionDep
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import cached_json
from travel_recharge.security import public

router = APIRouter(
    prefix="/api/v1/fares",
    tags=["fares"],
    route_class=StrictJSONRoute,
    dependencies=[public("reference")],
)


@router.get("", response_model=FaresOut)
async def fares(session: ReadSessionDep, cache: CacheDep, settings: SettingsDep) -> Response:
    """The fare policy in force now and every version, oldest first."""

    return await cached_json(
        cache,
        "fares",
        "overview",
        settings.cache_ttl_fares_s,
        lambda: service.fares_overview(session, datetime.now(UTC)),
        stale_ok=True,
    )
