"""The fares feature's named failures."""

from __future__ import annotations

from datetime import datetime

from travel_recharge.kit.errors import Unprocessable


class NoFarePolicyInForce(Unprocessable):
    """No fare policy was in force at the event's time: it cannot be priced."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"event_time: no fare policy was in force at {at.isoformat()}")
