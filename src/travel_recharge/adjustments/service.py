"""Adjustment rules: who may propose and decide, what an approval posts, and the limits.

- A refund credits the card; with the refunds already approved against the same trip or
  recharge it may not pass what that reference moved (the trip's fare, the recharge's
  amount). A correction may go either way.
- Either kind stays within TR_ADJUSTMENT_MAX_AMOUNT; a credit never lifts the balance above
  the fare policy's maximum; a debit never takes it below zero.
- The card must be active or blocked (a replaced card's balance lives on its replacement).
- An approval locks the adjustment, then the card (the order a tap never inverts: it locks
  no adjustment), checks the rules again on what is true now, and posts in one transaction:
  the card's balance, one ledger entry of kind 'adjustment' naming the trip or recharge, and
  the decision. A second approval, racing, finds it decided (409) and moves nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.adjustments import repository
from travel_recharge.adjustments.errors import (
    AdjustmentAlreadyDecided,
    AdjustmentNotFound,
    AdjustmentOverdraws,
    CardNotAdjustable,
    OwnProposal,
    ReferenceNotOfCard,
    RefundExceedsReference,
)
from travel_recharge.adjustments.schemas import (
    AdjustmentOut,
    AdjustmentProposal,
    AdjustmentsOut,
    Decision,
    Rejection,
    Status,
)
from travel_recharge.cards import service as cards
from travel_recharge.fares import service as fares
from travel_recharge.fares.engine import credit_after
from travel_recharge.finance import service as ledger
from travel_recharge.kit import idempotency
from travel_recharge.kit.audit import audit
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import ReadSession, UnitOfWork
from travel_recharge.kit.errors import Conflict, Unprocessable
from travel_recharge.kit.idempotency import Answer
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.pagination import Page
from travel_recharge.models import Adjustment, Card
from travel_recharge.security import Principal
from travel_recharge.trips import service as trips

logger = logging.getLogger("travel_recharge.adjustments")

PROPOSAL_SCOPE = "adjustment"
ADJUSTABLE = ("active", "blocked")


def to_out(row: Adjustment, balance_after: int | None = None) -> AdjustmentOut:
    return AdjustmentOut(
        adjustment_id=row.id,
        card_id=row.card_id,
        kind=row.kind,
        amount=row.amount,
        reason=row.reason,
        trip_id=row.trip_id,
        recharge_id=row.recharge_id,
        status=row.status,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        ledger_entry_id=row.ledger_entry_id,
        balance_after=balance_after,
    )


async def propose(
    uow: UnitOfWork,
    request: AdjustmentProposal,
    key: str,
    now: datetime,
    *,
    actor: Principal,
    max_amount: int,
) -> Answer:
    """Record a proposal (no money moves); a retry with the same Idempotency-Key returns it."""
    session = uow.session
    stored = await idempotency.claim(
        session, PROPOSAL_SCOPE, key, idempotency.fingerprint(request.model_dump())
    )
    if stored is not None:
        return Answer(stored.status_code, stored.body, replayed=True)
    if abs(request.amount) > max_amount:
        raise Unprocessable(f"amount: an adjustment is at most {max_amount} pesos either way")
    card = await cards.require_card(session, request.card_id)
    _require_adjustable(card)
    moved = await _moved_by_reference(
        session, request.card_id, request.trip_id, request.recharge_id
    )
    if request.kind == "refund":
        await _check_refund_cap(
            session, request.trip_id, request.recharge_id, moved, request.amount
        )
    row = await repository.add(
        session,
        card_id=request.card_id,
        kind=request.kind,
        amount=request.amount,
        reason=request.reason,
        trip_id=request.trip_id,
        recharge_id=request.recharge_id,
        proposed_by=actor.account_id,
        proposed_at=now,
    )
    body = to_out(row).model_dump(mode="json")
    await idempotency.remember(session, PROPOSAL_SCOPE, key, 201, body)
    audit(
        "adjustment.proposed",
        actor,
        f"adjustment:{row.id}",
        after_commit=uow,
        card_id=row.card_id,
        amount=row.amount,
    )
    return Answer(201, body, replayed=False)


async def approve(
    uow: UnitOfWork,
    cache: Cache,
    adjustment_id: int,
    decision: Decision,
    now: datetime,
    *,
    actor: Principal,
) -> AdjustmentOut:
    """Post the adjustment to the card and its ledger, once, by an operator who did not
    propose it."""
    session = uow.session
    row = await _lock_undecided(session, adjustment_id, actor)
    card = await cards.lock_card(session, row.card_id)
    _require_adjustable(card)
    moved = await _moved_by_reference(session, row.card_id, row.trip_id, row.recharge_id)
    if row.kind == "refund":
        await _check_refund_cap(session, row.trip_id, row.recharge_id, moved, row.amount)
    new_balance = card.balance + row.amount
    credit_trips = card.credit_trips_in_use
    if row.amount < 0:
        if new_balance < 0:
            raise AdjustmentOverdraws(card.id, card.balance, row.amount)
    else:
        policy = (await fares.policy_at(session, now)).policy
        if new_balance > policy.max_balance:
            raise Conflict(
                f"amount: the balance would be {new_balance}, above the maximum "
                f"{policy.max_balance}"
            )
        credit_trips = credit_after(new_balance, credit_trips, policy)
    await cards.set_money(session, card.id, balance=new_balance, credit_trips_in_use=credit_trips)
    entry_id = await ledger.append_entry(
        session,
        card_id=card.id,
        kind="adjustment",
        amount=row.amount,
        balance_after=new_balance,
        trip_id=row.trip_id,
        recharge_id=row.recharge_id,
        note=f"adjustment {row.id} ({row.kind})",
        account_id=actor.account_id,
    )
    decided = await repository.decide(
        session,
        row.id,
        status="approved",
        decided_by=actor.account_id,
        decided_at=now,
        note=decision.note,
        ledger_entry_id=entry_id,
    )
    cards.invalidate_after_commit(uow, cache, card.id)
    audit(
        "adjustment.approved",
        actor,
        f"adjustment:{row.id}",
        after_commit=uow,
        card_id=card.id,
        amount=row.amount,
    )
    log_event(logger, "adjustment.posted", card_id=card.id, amount=row.amount, entry_id=entry_id)
    return to_out(decided, balance_after=new_balance)


async def reject(
    uow: UnitOfWork, adjustment_id: int, rejection: Rejection, now: datetime, *, actor: Principal
) -> AdjustmentOut:
    """Close the proposal without moving money, by an operator who did not propose it."""
    row = await _lock_undecided(uow.session, adjustment_id, actor)
    decided = await repository.decide(
        uow.session,
        row.id,
        status="rejected",
        decided_by=actor.account_id,
        decided_at=now,
        note=rejection.note,
        ledger_entry_id=None,
    )
    audit("adjustment.rejected", actor, f"adjustment:{row.id}", after_commit=uow)
    return to_out(decided)


async def adjustment(session: ReadSession, adjustment_id: int) -> AdjustmentOut:
    row = await repository.by_id(session, adjustment_id)
    if row is None:
        raise AdjustmentNotFound(adjustment_id)
    return to_out(row)


async def adjustments(
    session: ReadSession, page: Page, *, status: Status | None, card_id: int | None
) -> AdjustmentsOut:
    rows = await repository.listed(
        session, status=status, card_id=card_id, limit=page.limit, offset=page.offset
    )
    return AdjustmentsOut(adjustments=[to_out(row) for row in rows], page=page.info(len(rows)))


async def _lock_undecided(
    session: AsyncSession, adjustment_id: int, actor: Principal
) -> Adjustment:
    row = await repository.lock(session, adjustment_id)
    if row is None:
        raise AdjustmentNotFound(adjustment_id)
    if row.status != "proposed":
        raise AdjustmentAlreadyDecided(row.id, row.status)
    if row.proposed_by == actor.account_id:
        raise OwnProposal(row.id)
    return row


def _require_adjustable(card: Card) -> None:
    if card.status not in ADJUSTABLE:
        raise CardNotAdjustable(card.id, card.status)


async def _moved_by_reference(
    session: AsyncSession, card_id: int, trip_id: int | None, recharge_id: int | None
) -> int:
    """What the trip charged or the recharge credited; 422 unless it is one of the card's."""
    if trip_id is not None:
        trip = await trips.trip_of(session, trip_id)
        if trip is None or trip.card_id != card_id:
            raise ReferenceNotOfCard("trip_id", trip_id, card_id)
        return trip.fare_charged
    assert recharge_id is not None  # the proposal names exactly one (schemas, CHECK)
    recharge = await cards.recharge_of(session, recharge_id)
    if recharge is None or recharge.card_id != card_id:
        raise ReferenceNotOfCard("recharge_id", recharge_id, card_id)
    return recharge.amount


async def _check_refund_cap(
    session: AsyncSession, trip_id: int | None, recharge_id: int | None, moved: int, amount: int
) -> None:
    refunded = await repository.refunded(session, trip_id=trip_id, recharge_id=recharge_id)
    if refunded + amount > moved:
        what = f"trip {trip_id}" if trip_id is not None else f"recharge {recharge_id}"
        raise RefundExceedsReference(what, moved, refunded, amount)
