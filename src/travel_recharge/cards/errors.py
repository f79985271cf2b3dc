"""The cards feature's named failures, raised wherever a card is looked up or charged."""

from __future__ import annotations

from datetime import datetime

from travel_recharge.kit.errors import Conflict, NotFound


class CardNotFound(NotFound):
    """No card has this id."""

    def __init__(self, card_id: int) -> None:
        super().__init__(f"card {card_id} does not exist")


class CardNotActive(Conflict):
    """The card is blocked, replaced or deactivated: it can neither pay nor be recharged."""

    def __init__(self, card_id: int, status: str) -> None:
        super().__init__(f"card {card_id} is {status}; only active cards can be used")


class CardDeniedAtTap(Conflict):
    """An offline validator let through a card that was already on the deny list."""

    def __init__(self, card_id: int, at: datetime) -> None:
        super().__init__(f"card {card_id} was on the deny list at {at.isoformat()}")
