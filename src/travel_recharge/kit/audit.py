"""Audit events: who did what to what, one log line each, on a logger of their own.

Changes an investigation must be able to attribute — accounts made or deactivated, cards
blocked, unblocked or replaced, alerts written, the cache cleared, the simulator started or
stopped — log `audit.<action>` with the actor (account id, login, role) and the target
(`card:12`, `account:7`...). Only identifiers: never a secret, token, password, card number
or a rider's name; a detail whose name suggests one is refused when the code runs, so a
careless call fails its tests instead of leaking. Written after the commit when the change
is part of a request's transaction, so the log never claims a change that was rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from travel_recharge.kit.db import CommitHooks
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.audit")

# Parts of a detail's name that mean it must not be logged.
_FORBIDDEN = ("secret", "password", "token", "hash", "card_number", "document", "full_name")

Detail = str | int | float | bool | None


class Actor(Protocol):
    """Who acts: a token's principal, or a SystemActor."""

    @property
    def account_id(self) -> int | None: ...

    @property
    def login(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class SystemActor:
    """An actor without an account: the machine's command line, or the service itself."""

    login: str
    role: str = "system"
    account_id: int | None = None


def audit(
    action: str,
    actor: Actor,
    target: str,
    *,
    after_commit: CommitHooks | None = None,
    **details: Detail,
) -> None:
    """Log `audit.<action>`; with `after_commit`, once that transaction has committed."""
    refused = [name for name in details if any(part in name for part in _FORBIDDEN)]
    if refused:
        raise ValueError(f"audit details must not carry secrets or personal data: {refused}")
    fields: dict[str, Detail] = {  # details come last but may not replace who and what
        **details,
        "actor_id": actor.account_id,
        "actor_login": actor.login,
        "actor_role": str(actor.role),
        "target": target,
    }

    async def write() -> None:
        log_event(logger, f"audit.{action}", logging.INFO, **fields)

    if after_commit is None:
        log_event(logger, f"audit.{action}", logging.INFO, **fields)
    else:
        after_commit.after_commit(write)
