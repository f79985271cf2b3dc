"""The revenue forecast's named errors."""

from __future__ import annotations

from travel_recharge.kit.errors import ServiceUnavailable


class ForecastNotFitted(ServiceUnavailable):
    """No forecast has been fitted yet (a new deployment: within a minute of start)."""

    def __init__(self) -> None:
        super().__init__(
            "revenue forecast: not fitted yet; each worker starts the fit within"
            " TR_FORECAST_CHECK_INTERVAL_S of its start, or run `travel-recharge forecast`"
        )
