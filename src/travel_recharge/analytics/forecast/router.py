"""The revenue forecast's endpoint (analysts and operators)."""

from __future__ import annotations

from fastapi import Response

from travel_recharge.analytics.forecast import service
from travel_recharge.analytics.forecast.errors import ForecastNotFitted
from travel_recharge.analytics.forecast.schemas import RevenueForecast
from travel_recharge.analytics.router import watched_router
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.views import ReadsDep, json_response

router = watched_router()


@router.get(
    "/revenue-forecast",
    response_model=RevenueForecast,
    responses=error_responses(ForecastNotFitted),
)
async def revenue_forecast(reads: ReadsDep) -> Response:
    """Daily fare revenue for the next 14 days with a 95% interval, and its backtest error
    beside a seasonal-naive baseline's (refitted at most hourly)."""
    return json_response(await service.forecast_view(reads))
