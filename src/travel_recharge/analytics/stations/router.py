"""GET /api/v1/analytics/station-performance (analysts and operators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response

from travel_recharge.analytics.router import watched_router
from travel_recharge.analytics.stations import service
from travel_recharge.analytics.stations.schemas import StationPerformance
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.views import ReadsDep, json_response
from travel_recharge.kit.wire_formats import IsoDate

router = watched_router()


@router.get(
    "/station-performance", response_model=StationPerformance, responses=error_responses(422)
)
async def station_performance(
    reads: ReadsDep,
    day: Annotated[
        IsoDate | None, Query(description="the local day, YYYY-MM-DD (default: today)")
    ] = None,
    weeks: Annotated[
        int, Query(ge=4, le=26, description="weeks of the same weekday to compare with")
    ] = service.DEFAULT_WEEKS,
) -> Response:
    """Boardings per station on a day against the same weekday-hour of earlier weeks (robust
    z-scores, anomalies flagged), peak-hour factor, busiest 15 minutes, rank change."""
    return json_response(await service.performance_view(reads, day, weeks, datetime.now(UTC)))
