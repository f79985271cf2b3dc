"""The cards feature's own access rule: staff roles, or the rider who owns the card in the path.

Declared here rather than in security, so security needs no feature's tables (it offers the
generic allow_owner; each feature says what "owning" means for its resources).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.params import Depends as DependsParam

from travel_recharge.cards import service
from travel_recharge.cards.schemas import CardId
from travel_recharge.kit.views import PrimaryReadsDep, Reads
from travel_recharge.security import Role, allow_owner


@dataclass(frozen=True)
class CardClaim:
    card_id: int
    # The primary: a card bought a moment ago is already its owner's on the next request.
    # A session is opened only when a rider asks: staff calls cost none.
    reads: Reads

    @property
    def resource(self) -> str:
        return f"card {self.card_id}"

    async def owned_by(self, user_id: int) -> bool:
        return await self.reads.uncached(
            lambda session: service.is_owner(session, self.card_id, user_id)
        )


async def card_in_path(card_id: CardId, reads: PrimaryReadsDep) -> CardClaim:
    return CardClaim(card_id, reads)


def allow_card_owner(group: str, *roles: Role) -> DependsParam:
    """Like security.allow(), and a rider may also call it for a card_id they own (else 403)."""
    return allow_owner(group, *roles, claim=card_in_path)
