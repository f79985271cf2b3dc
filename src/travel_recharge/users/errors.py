"""The users feature's named failures."""

from __future__ import annotations

from travel_recharge.kit.errors import NotFound


class UserNotFound(NotFound):
    """No rider has this id."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} does not exist")
