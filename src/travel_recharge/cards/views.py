"""The cards' cached read views: a card's balance and its recharges, from the primary.

Never stale: every write to a card invalidates the card's group after its commit
(service.invalidate_after_commit), and these views are read from the primary, where the
caller's own acknowledged writes are already visible.
"""

from __future__ import annotations

from datetime import UTC, datetime

from travel_recharge.cards import repository
from travel_recharge.cards.schemas import BalanceOut, RechargeHistoryItem, RechargeHistoryOut
from travel_recharge.cards.service import cache_group, require_card
from travel_recharge.cards.web_recharges import service as web_recharges
from travel_recharge.fares import service as fares
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.pagination import Page
from travel_recharge.kit.views import Reads


async def balance_view(reads: Reads, card_id: int) -> bytes:
    """The balance view from the primary, exact after every acknowledged write (never stale:
    writers invalidate the card's group after their commit)."""
    return await reads.view(
        cache_group(card_id),
        "balance",
        reads.settings.cache_ttl_card_s,
        lambda session: balance(session, card_id, datetime.now(UTC)),
    )


async def history_view(reads: Reads, card_id: int, page: Page) -> bytes:
    return await reads.view(
        cache_group(card_id),
        f"history:{page.cache_field}",
        reads.settings.cache_ttl_card_s,
        lambda session: recharge_history(session, card_id, page),
        cacheable=page.cacheable,
    )


async def balance(session: ReadSession, card_id: int, now: datetime) -> BalanceOut:
    card = await require_card(session, card_id)
    credit_trips = (await fares.policy_at(session, now)).policy.credit_trips
    available = credit_trips - card.credit_trips_in_use if card.card_type == "personalized" else 0
    return BalanceOut(
        card_id=card.id,
        balance=card.balance,
        last_used_date=card.last_used_at,
        status=card.status,
        card_type=card.card_type,
        profile=card.profile,
        credit_trips_in_use=card.credit_trips_in_use,
        credit_trips_available=max(0, available),
        pending_web_recharges=await web_recharges.pending_total(session, card.id, now),
    )


async def recharge_history(session: ReadSession, card_id: int, page: Page) -> RechargeHistoryOut:
    await require_card(session, card_id)
    rows = await repository.recharges_of_card(session, card_id, page.limit, page.offset)
    return RechargeHistoryOut(
        card_id=card_id,
        history=[
            RechargeHistoryItem(
                recharge_id=r.id,
                amount=r.amount,
                credit_repaid=r.credit_repaid,
                new_balance=r.new_balance,
                recharge_point_id=r.recharge_point_id,
                channel=r.channel,
                recharge_timestamp=r.created_at,
            )
            for r in rows
        ],
        page=page.info(len(rows)),
    )
