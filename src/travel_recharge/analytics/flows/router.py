"""GET /api/v1/analytics/od-matrix and /transfer-flows (analysts and operators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response

from travel_recharge.analytics.flows import service
from travel_recharge.analytics.flows.bands import Band
from travel_recharge.analytics.flows.schemas import OdMatrix, TransferFlows
from travel_recharge.analytics.router import watched_router
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.views import ReadsDep, json_response
from travel_recharge.kit.wire_formats import IsoDate

router = watched_router()

FromDay = Annotated[
    IsoDate | None,
    Query(alias="from", description="first local day, YYYY-MM-DD (default: 7 days ago)"),
]
ToDay = Annotated[
    IsoDate | None, Query(alias="to", description="last local day (default: yesterday)")
]
BandQuery = Annotated[
    Band | None,
    Query(description="early 0-5, am_peak 5-9, midday 9-16, pm_peak 16-20, night 20-24 (local)"),
]


@router.get("/od-matrix", response_model=OdMatrix, responses=error_responses(422))
async def od_matrix(
    reads: ReadsDep,
    first: FromDay = None,
    last: ToDay = None,
    band: BandQuery = None,
    level: Annotated[
        service.Level, Query(description="locality, or station (trunk, portal, cable)")
    ] = "locality",
    limit: Annotated[int, Query(ge=1, le=500, description="pairs listed, busiest first")] = 100,
) -> Response:
    """Trips between localities or stations over a date range and time band, destinations
    observed or inferred by trip chaining, with the shares of each and of the unknown."""
    days = service.date_range(first, last, datetime.now(UTC), reads.settings.timezone)
    return json_response(await service.od_view(reads, level, *days, band, limit))


@router.get("/transfer-flows", response_model=TransferFlows, responses=error_responses(422))
async def transfer_flows(
    reads: ReadsDep, first: FromDay = None, last: ToDay = None, band: BandQuery = None
) -> Response:
    """Where riders change: transfers between trunk, zonal, feeder and cable, the busiest
    pairs of lines, and the stops where most transfers board."""
    days = service.date_range(first, last, datetime.now(UTC), reads.settings.timezone)
    return json_response(await service.transfers_view(reads, *days, band))
