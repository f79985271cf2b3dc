"""The accounts feature's named failures."""

from __future__ import annotations

from travel_recharge.kit.errors import Conflict, NotFound


class LoginTaken(Conflict):
    """Another account already has this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"login: {login!r} is already taken")


class AccountNotFound(NotFound):
    """No account has this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} does not exist")
