"""GET /api/v1/analytics/live: the live dashboard, for analysts and operators.

Apart from the analytics router, whose access rule (analysts only) covers all its routes:
operators watch the network live too.
"""

from __future__ import annotations

from fastapi import Response

from travel_recharge.analytics.live import service as live
from travel_recharge.analytics.live.schemas import LiveDashboard
from travel_recharge.analytics.router import IncludeSimulated, watched_router
from travel_recharge.kit.views import ReadsDep, json_response

router = watched_router()


@router.get("/live", response_model=LiveDashboard)
async def live_dashboard(reads: ReadsDep, include_simulated: IncludeSimulated = False) -> Response:
    """Today's trips, revenue and active cards, taps per minute, by locality and by hour."""
    return json_response(await live.dashboard_view(reads, include_simulated))
