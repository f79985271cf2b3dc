"""The trips feature's named failures."""

from __future__ import annotations

from datetime import datetime

from travel_recharge.kit.errors import Conflict, NotFound


class TapIdTaken(Conflict):
    """The tap_id was already used for another card: a tap id names one tap, once."""

    def __init__(self, tap_id: object) -> None:
        super().__init__(f"tap_id {tap_id} was already used by another card")


class TripNotFound(NotFound):
    """No trip has this id."""

    def __init__(self, trip_id: int) -> None:
        super().__init__(f"trip {trip_id} does not exist")


class TripAlreadyEnded(Conflict):
    """The trip already has its exit."""

    def __init__(self, trip_id: int, ended_at: datetime) -> None:
        super().__init__(f"trip {trip_id} already ended at {ended_at.isoformat()}")
