"""SQL of the deny list. Each answer is read by one statement, so its version and its cards
come from the same snapshot of the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Card, DenyListChange


@dataclass(frozen=True)
class ListState:
    version: int
    added: list[int]
    removed: list[int]


def _version() -> ScalarSelect[int]:
    return select(func.coalesce(func.max(DenyListChange.version), 0)).scalar_subquery()


def _ids(found: Sequence[int] | None) -> list[int]:
    return [int(card_id) for card_id in found or ()]  # array_agg of no rows is NULL


async def snapshot(session: ReadSession) -> ListState:
    """Every card refused now (any status but active), and the version that includes them."""
    denied = (
        select(func.array_agg(aggregate_order_by(Card.id, Card.id)))
        .where(Card.status != "active")
        .scalar_subquery()
    )
    version, cards = (await session.execute(select(_version(), denied))).one()
    return ListState(int(version), _ids(cards), [])


async def changes_since(session: ReadSession, since: int, at_most: int) -> int:
    """How many changes were numbered after `since`, counted up to `at_most` + 1."""
    newer = select(DenyListChange.version).where(DenyListChange.version > since).limit(at_most + 1)
    return int(await session.scalar(select(func.count()).select_from(newer.subquery())) or 0)


async def delta(session: ReadSession, since: int) -> ListState:
    """Each card changed after version `since`, by its latest change: refused or usable."""
    latest = (
        select(DenyListChange.card_id, DenyListChange.denied)
        .where(DenyListChange.version > since)
        .order_by(DenyListChange.card_id, DenyListChange.version.desc())
        .ext(distinct_on(DenyListChange.card_id))
        .cte("latest")
    )

    def cards(denied: bool) -> ScalarSelect[Sequence[int] | None]:
        return (
            select(func.array_agg(aggregate_order_by(latest.c.card_id, latest.c.card_id)))
            .where(latest.c.denied.is_(denied))
            .scalar_subquery()
        )

    version, added, removed = (
        await session.execute(select(_version(), cards(True), cards(False)))
    ).one()
    return ListState(int(version), _ids(added), _ids(removed))


# The card's last change of the list by then; none: never refused.
_DENIED_AT = """
SELECT denied FROM deny_list_changes WHERE card_id = $1 AND changed_at <= $2
ORDER BY version DESC LIMIT 1
"""


async def denied_at(connection: asyncpg.Connection, card_id: int, at: datetime) -> bool:
    """Whether the card was on the deny list at `at` (an offline validator's tap)."""
    return bool(await connection.fetchval(_DENIED_AT, card_id, at))
