"""GET /api/v1/fares: the policy in force and its history."""

from __future__ import annotations

from fastapi import APIRouter, Response

from travel_recharge.fares import service
from travel_recharge.fares.schemas import FaresOut
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import ReadsDep, json_response
from travel_recharge.security import public

router = APIRouter(
    prefix="/api/v1/fares",
    tags=["fares"],
    route_class=StrictJSONRoute,
    dependencies=[public("reference")],
)


@router.get("", response_model=FaresOut)
async def fares(reads: ReadsDep) -> Response:
    """The fare policy in force now and every version, oldest first."""
    return json_response(await service.overview_view(reads))
