"""The network's named failures: a station, route or recharge point a request names."""

from __future__ import annotations

from travel_recharge.kit.errors import Conflict, NotFound


class StationNotFound(NotFound):
    """No station or stop has this id or code."""

    def __init__(self, station: int | str) -> None:
        super().__init__(f"station {station} does not exist")


class RouteNotFound(NotFound):
    """No route has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"route {code} does not exist")


class RechargePointNotFound(NotFound):
    """No recharge point has this id."""

    def __init__(self, point_id: int) -> None:
        super().__init__(f"recharge point {point_id} does not exist")


class RechargePointNotActive(Conflict):
    """The recharge point is closed: it takes no recharges."""

    def __init__(self, point_id: int) -> None:
        super().__init__(f"recharge point {point_id} is not active")
