"""The accounts feature's named failures."""

from __future__ import annotations

from travel_recharge.kit.errors import Conflict, NotFound, Unprocessable


class LoginTaken(Conflict):
    """Another account already has this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"login: {login!r} is already taken")


class AccountNotFound(NotFound):
    """No account has this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} does not exist")


class NotOurToken(Unprocessable):
    """The token to revoke was not signed by this service (or is not a token at all)."""

    def __init__(self) -> None:
        super().__init__("token: not a token this service issued")


class NotADevice(Conflict):
    """Only a device's secret is rotated by an admin; a person's password is their own."""

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} is a person's: only a device's secret is rotated")
