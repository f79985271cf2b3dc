"""Web recharge rules: the payment, the posting at a station read, the expiry.

- Paid: with an Idempotency-Key, at a web recharge point (a web shop's device account bound
  to it), within the policy's web limits (10,000 to 200,000 in the shipped policies), and
  only if the balance with every pending web recharge stays within the policy's maximum. The
  money is pending: not in the balance nor the ledger; the balance view shows it beside.
- Posted: by the next tap of the card at a station validator (a station named, no route: a
  gate, not a bus reader), in that tap's transaction and before the tap is priced, in the
  order they were paid; each becomes a recharge of channel 'web' with its ledger entries,
  repaying credit first as any recharge does. One that would now pass the maximum balance
  stays pending, and so do the later ones.
- Expired: one still pending TR_WEB_RECHARGE_EXPIRY_DAYS after its payment is marked expired
  (refunded to the payer) by the sweep each worker runs every TR_WEB_RECHARGE_SWEEP_S; a tap
  never posts one past its expiry, swept or not.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from travel_recharge.cards import service as cards
from travel_recharge.cards.schemas import RechargeRequest
from travel_recharge.cards.web_recharges import repository
from travel_recharge.cards.web_recharges.schemas import (
    PostedWebRecharge,
    WebRechargeOut,
    WebRechargesOut,
)
from travel_recharge.fares import service as fares
from travel_recharge.fares.engine import RechargeRejected, plan_recharge
from travel_recharge.fares.policy import FarePolicy, RechargeChannel
from travel_recharge.kit import idempotency
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import Database, DriverTransaction, ReadSession, UnitOfWork
from travel_recharge.kit.errors import Unprocessable
from travel_recharge.kit.idempotency import Answer
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.pagination import Page
from travel_recharge.models import WebRecharge
from travel_recharge.network import service as network
from travel_recharge.observability import business as metrics

logger = logging.getLogger("travel_recharge.cards")

SCOPE = "web_recharge"

# For the tap's first statement: whether the card it locks has a pending web recharge.
has_pending_sql = repository.has_pending_sql


def to_out(row: WebRecharge) -> WebRechargeOut:
    return WebRechargeOut(
        web_recharge_id=row.id,
        card_id=row.card_id,
        amount=row.amount,
        recharge_point_id=row.recharge_point_id,
        status=row.status,
        paid_at=row.paid_at,
        expires_at=row.expires_at,
        posted_at=row.posted_at,
        recharge_id=row.recharge_id,
        validator_id=row.validator_id,
        expired_at=row.expired_at,
    )


async def pay(
    uow: UnitOfWork,
    cache: Cache,
    request: RechargeRequest,
    key: str,
    now: datetime,
    *,
    account_id: int | None,
    expiry: timedelta,
) -> Answer:
    """Take a web payment for the card: pending until its next read at a station."""
    session = uow.session
    stored = await idempotency.claim(
        session, SCOPE, key, idempotency.fingerprint(request.model_dump())
    )
    if stored is not None:
        return Answer(stored.status_code, stored.body, replayed=True)
    # Locked: two payments (or a payment and a tap) check the maximum balance one at a time.
    card = await cards.lock_card(session, request.card_id)
    cards.require_active(card.id, card.status)
    point = await network.require_recharge_point(session, request.recharge_point_id)
    cards.require_point_for(
        card.id,
        card.simulated,
        cards.PointOfSale(point.id, point.channel, point.active, point.simulated),
        web=True,
    )
    policy = (await fares.policy_at(session, now)).policy
    pending = await repository.pending_total(session, card.id, now)
    try:
        # As if every pending one had posted: the card must be able to take them all.
        plan_recharge(
            card.balance + pending,
            card.credit_trips_in_use,
            request.amount,
            policy,
            RechargeChannel.WEB,
        )
    except RechargeRejected as exc:
        raise Unprocessable(f"{exc.field}: {exc.message} (with {pending} pending)") from exc
    row = await repository.add(
        session,
        card_id=card.id,
        point_id=point.id,
        amount=request.amount,
        paid_at=now,
        expires_at=now + expiry,
        account_id=account_id,
    )
    body = to_out(row).model_dump(mode="json")
    await idempotency.remember(session, SCOPE, key, 201, body)
    cards.invalidate_after_commit(uow, cache, card.id)  # the pending amount shows with the balance
    log_event(
        logger, "web_recharge.paid", card_id=card.id, amount=row.amount, web_recharge_id=row.id
    )
    return Answer(201, body, replayed=False)


async def post_pending(
    unit: DriverTransaction,
    *,
    card_id: int,
    card_simulated: bool,
    balance: int,
    credit_trips_in_use: int,
    policy: FarePolicy,
    now: datetime,
    validator_id: str,
) -> tuple[list[PostedWebRecharge], int, int]:
    """Post the card's pending web recharges, in the tap's transaction (the card is locked):
    what was posted, and the card's balance and credit trips in use after them."""
    posted: list[PostedWebRecharge] = []
    for pending in await repository.lock_pending(unit.connection, card_id):
        if pending.expires_at <= now:
            continue  # refunded by the sweep, never posted
        try:
            plan = plan_recharge(
                balance, credit_trips_in_use, pending.amount, policy, RechargeChannel.WEB
            )
        except RechargeRejected:
            break  # it would pass the maximum balance now: it and the later ones wait
        recharge_id = await repository.post(
            unit.connection,
            repository.Posting(
                web_recharge_id=pending.id,
                card_id=card_id,
                point_id=pending.point_id,
                amount=pending.amount,
                credit_repaid=plan.credit_repaid,
                new_balance=plan.new_balance,
                posted_at=now,
                account_id=pending.account_id,
                entries=cards.recharge_entries(balance, pending.amount, plan.credit_repaid),
                credit_trips_in_use=plan.credit_trips_in_use_after,
                validator_id=validator_id,
            ),
        )
        balance, credit_trips_in_use = plan.new_balance, plan.credit_trips_in_use_after
        posted.append(
            PostedWebRecharge(
                web_recharge_id=pending.id, recharge_id=recharge_id, amount=pending.amount
            )
        )
        if not card_simulated:
            unit.after_commit(metrics.recharge_committed("web", pending.amount))
        log_event(
            logger,
            "web_recharge.posted",
            card_id=card_id,
            amount=pending.amount,
            web_recharge_id=pending.id,
            recharge_id=recharge_id,
        )
    return posted, balance, credit_trips_in_use


async def pending_total(session: ReadSession, card_id: int, now: datetime) -> int:
    """The pesos paid on the web for the card and not posted yet (the balance view's)."""
    return await repository.pending_total(session, card_id, now)


async def of_card(session: ReadSession, card_id: int, page: Page) -> WebRechargesOut:
    await cards.require_card(session, card_id)
    rows = await repository.of_card(session, card_id, page.limit, page.offset)
    return WebRechargesOut(
        card_id=card_id, web_recharges=[to_out(row) for row in rows], page=page.info(len(rows))
    )


async def expire_due(database: Database, cache: Cache, now: datetime) -> int:
    """Expire (refund) every pending web recharge due by `now`; how many."""
    async with database.write_sessions() as session, session.begin():
        expired = await repository.expire_due(session, now)
    # After the commit: the cards' balance views show the pending amount.
    await cache.invalidate(*(cards.cache_group(card_id) for _, card_id, _ in expired))
    for web_recharge_id, card_id, amount in expired:
        log_event(
            logger,
            "web_recharge.expired",
            card_id=card_id,
            amount=amount,
            web_recharge_id=web_recharge_id,
        )
    return len(expired)


async def expire_forever(database: Database, cache: Cache, interval_s: float) -> None:
    """A worker's sweep. Every worker runs one: two at once expire each row once (the second
    waits on the first's rows, then finds them expired)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await expire_due(database, cache, datetime.now(UTC))
        except Exception as exc:  # the database may be down: try again next round
            log_event(
                logger, "web_recharge.sweep_failed", logging.WARNING, error=type(exc).__name__
            )
