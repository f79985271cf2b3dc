"""GET /api/v1/analytics/live: the live dashboard, for analysts and operators.

Apart from the analytics router, whose access rule (analysts only) covers all its routes:
operators watch the network live too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from travel_recharge.analytics.live import service as live
from travel_recharge.analytics.live.schemas import LiveDashboard
from travel_recharge.analytics.router import IncludeSimulated, cache_field
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import ReadSessionDep
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.views import cached_json
from travel_recharge.security import Role, allow

router = APIRouter(
    prefix="/api/v1/analytics",
    tags=["analytics"],
    route_class=StrictJSONRoute,
    dependencies=[allow("analytics", Role.analyst, Role.operator)],
)


@router.get("/live", response_model=LiveDashboard)
async def live_dashboard(
    session: ReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    include_simulated: IncludeSimulated = False,
) -> Response:
    """Today's trips, revenue and active cards, taps per minute, by locality and by hour."""
    # One answer for every dashboard polling within the TTL: the figures are then at most
    # cache_ttl_live_s old (plus the stale grace while one caller recomputes them).
    return await cached_json(
        cache,
        live.GROUP,
        cache_field("live", include_simulated),
        settings.cache_ttl_live_s,
        lambda: live.dashboard(
            session,
            cache,
            datetime.now(UTC),
            settings.timezone,
            settings.cache_ttl_live_active_cards_s,
            include_simulated,
        ),
        stale_ok=True,
    )
