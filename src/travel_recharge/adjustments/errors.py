"""The adjustments feature's named failures."""

from __future__ import annotations

from travel_recharge.kit.errors import Conflict, Forbidden, NotFound, Unprocessable


class AdjustmentNotFound(NotFound):
    """No adjustment has this id."""

    def __init__(self, adjustment_id: int) -> None:
        super().__init__(f"adjustment {adjustment_id} does not exist")


class AdjustmentAlreadyDecided(Conflict):
    """The adjustment was already approved or rejected: a decision is taken once."""

    def __init__(self, adjustment_id: int, status: str) -> None:
        super().__init__(f"adjustment {adjustment_id} is already {status}")


class OwnProposal(Forbidden):
    """The operator who proposed an adjustment may not decide it (four eyes)."""

    def __init__(self, adjustment_id: int) -> None:
        super().__init__(
            f"adjustment {adjustment_id} was proposed by this account; "
            "another operator must approve or reject it"
        )


class ReferenceNotOfCard(Unprocessable):
    """The trip or recharge named does not exist or belongs to another card."""

    def __init__(self, field: str, reference_id: int, card_id: int) -> None:
        what = field.removesuffix("_id")
        super().__init__(f"{field}: {what} {reference_id} is not a {what} of card {card_id}")


class RefundExceedsReference(Conflict):
    """The refunds of a trip or recharge would pass what it moved."""

    def __init__(self, what: str, moved: int, refunded: int, amount: int) -> None:
        super().__init__(
            f"amount: {what} moved {moved} pesos and {refunded} are already refunded; "
            f"a refund of {amount} would pass it"
        )


class AdjustmentOverdraws(Conflict):
    """A debit correction would leave the card's balance below zero."""

    def __init__(self, card_id: int, balance: int, amount: int) -> None:
        super().__init__(
            f"amount: card {card_id} holds {balance} pesos; a correction of {amount} "
            "would leave it below zero"
        )


class CardNotAdjustable(Conflict):
    """The card was replaced or deactivated: its balance lives on elsewhere or nowhere."""

    def __init__(self, card_id: int, status: str) -> None:
        super().__init__(
            f"card {card_id} is {status}; only an active or blocked card's balance is adjusted"
        )
