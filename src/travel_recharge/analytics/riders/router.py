"""GET /api/v1/analytics/riders (analysts and operators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response

from travel_recharge.analytics.riders import service
from travel_recharge.analytics.riders.schemas import RiderBehaviour
from travel_recharge.analytics.router import watched_router
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.views import ReadsDep, json_response
from travel_recharge.kit.wire_formats import IsoDate

router = watched_router()


@router.get(
    "/riders",
    response_model=RiderBehaviour,
    responses=error_responses(404, 422, service.RiderFiguresNotCounted),
)
async def riders(
    reads: ReadsDep,
    day: Annotated[
        IsoDate | None,
        Query(description="a finished local day, YYYY-MM-DD (default: the latest counted)"),
    ] = None,
) -> Response:
    """Active cards per day and week, trips per active card, segments with their transfer
    and credit use, recharge habits and dormant cards, for a finished day."""
    return json_response(await service.riders_view(reads, day, datetime.now(UTC)))
