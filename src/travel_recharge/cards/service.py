"""Card rules: issuing, balances, recharges (idempotent), blocking and replacement."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cards import repository
from travel_recharge.cards.errors import CardNotActive, CardNotFound
from travel_recharge.cards.schemas import (
    BlockRequest,
    CardCreate,
    CardOut,
    RechargeOut,
    RechargeRequest,
    ReplacementOut,
)
from travel_recharge.fares import service as fares
from travel_recharge.fares.engine import RechargeRejected, plan_recharge
from travel_recharge.fares.policy import RechargeChannel
from travel_recharge.finance import service as ledger
from travel_recharge.kit import idempotency
from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import CommitHooks, DriverTransaction, ReadSession, UnitOfWork
from travel_recharge.kit.errors import Conflict, Unprocessable
from travel_recharge.kit.idempotency import Answer
from travel_recharge.kit.logs import log_event
from travel_recharge.models import Card, Recharge
from travel_recharge.network.errors import RechargePointNotActive, RechargePointNotFound
from travel_recharge.observability import business as metrics
from travel_recharge.users import service as users

logger = logging.getLogger("travel_recharge.cards")


# The card's side of a tap, for the trips feature's one-statement post (see its repository).
charge_for_tap_sql = repository.charge_for_tap_sql
# A card's new balance and credit, for a workflow that appends the ledger entry explaining it
# in the same transaction, on the card it locked (adjustments).
set_money = repository.set_money
set_money_sql = repository.set_money_sql


def cache_group(card_id: int) -> str:
    """The cache group holding every cached view of one card (balance, history, trips)."""
    return f"cards:{card_id}"


def invalidate_after_commit(uow: CommitHooks, cache: Cache, *card_ids: int) -> None:
    async def invalidate() -> None:
        await cache.invalidate(*(cache_group(card_id) for card_id in card_ids))

    uow.after_commit(invalidate)


def to_out(card: Card) -> CardOut:
    return CardOut(
        card_id=card.id,
        card_number=card.card_number,
        card_type=card.card_type,
        status=card.status,
        balance=card.balance,
        user_id=card.user_id,
        profile=card.profile,
        credit_trips_in_use=card.credit_trips_in_use,
        created_at=card.created_at,
    )


async def require_card(session: ReadSession, card_id: int) -> Card:
    return _found(await repository.card_by_id(session, card_id), card_id)


async def lock_card(session: AsyncSession, card_id: int) -> Card:
    """The card, locked until the transaction ends: its balance changes are serialized."""
    return _found(await repository.lock_card(session, card_id), card_id)


def _found(card: Card | None, card_id: int) -> Card:
    if card is None:
        raise CardNotFound(card_id)
    return card


async def recharge_of(session: ReadSession, recharge_id: int) -> Recharge | None:
    """The recharge with this id, if any (what it credited, and to which card)."""
    return await repository.recharge_by_id(session, recharge_id)


async def is_owner(session: ReadSession, card_id: int, user_id: int) -> bool:
    """Whether the rider owns the card (its current or a replaced one)."""
    return await repository.card_owner(session, card_id) == user_id


async def cards_of(session: ReadSession, user_id: int) -> list[int]:
    """The ids of every card the rider has owned, oldest first."""
    return await repository.card_ids_of_user(session, user_id)


async def some_rider(session: AsyncSession) -> int | None:
    """A rider with an active card (demo mode gives them a rider account), if any."""
    return await repository.first_owner(session)


def require_active(card_id: int, status: str | None) -> None:
    if status != "active":
        raise CardNotActive(card_id, status or "unknown")


@dataclass(frozen=True)
class PointOfSale:
    """What a recharge needs to know of the recharge point it names."""

    id: int
    channel: str
    active: bool
    simulated: bool


def require_point_for(card_id: int, card_simulated: bool, point: PointOfSale, *, web: bool) -> None:
    """The point may sell a recharge of this card: it is open, of the flow asked for (a web
    point sells web recharges only, the others point-of-sale recharges only), and as real or
    as simulated as the card."""
    if not point.active:
        raise RechargePointNotActive(point.id)
    if web and point.channel != "web":
        raise Unprocessable(
            f"recharge_point_id: recharge point {point.id} sells at the {point.channel}; "
            "recharge there through POST /api/v1/cards/recharge"
        )
    if not web and point.channel == "web":
        # Web recharges are two-phase (posted when the card is next read at a station).
        raise Unprocessable(
            f"recharge_point_id: recharge point {point.id} sells on the web; web recharges "
            "are two-phase, through POST /api/v1/cards/web-recharges"
        )
    if point.simulated != card_simulated:
        # Simulated money stays among the traffic simulator's cards and points of sale: no
        # real card is credited at a made-up point, no made-up sale is booked to a real one.
        raise Unprocessable(
            f"recharge_point_id: recharge point {point.id} "
            + (
                "belongs to the traffic simulator; only its simulated cards are recharged there"
                if point.simulated
                else f"is a real point of sale; card {card_id} is a simulated card"
            )
        )


async def issue_card(session: AsyncSession, request: CardCreate, now: datetime) -> CardOut:
    simulated = False
    if request.card_type == "basic":
        if request.user_id is not None:
            raise Unprocessable("user_id: basic cards are anonymous; omit user_id")
        if request.profile is not None:
            raise Unprocessable("profile: rider profiles need a personalized card")
    else:
        if request.user_id is None:
            raise Unprocessable("user_id: a personalized card needs its owner's user_id")
        # The card of one of the traffic simulator's riders is simulated too, so cleaning the
        # simulator's riders up takes their cards with them.
        simulated = (await users.require_user(session, request.user_id)).simulated
        if await repository.user_has_card_in_use(session, request.user_id):
            raise Conflict(f"user {request.user_id} already has a personalized card in use")
    if request.profile is not None:
        policy = (await fares.policy_at(session, now)).policy
        if request.profile not in policy.profile_benefits:
            known = ", ".join(sorted(policy.profile_benefits))
            raise Unprocessable(f"profile: unknown profile {request.profile!r}; known: {known}")
    card = await repository.insert_card(
        session,
        card_type=request.card_type,
        user_id=request.user_id,
        profile=request.profile,
        simulated=simulated,
    )
    log_event(logger, "card.issued", card_id=card.id, card_type=card.card_type)
    return to_out(card)


async def recharge(
    unit: DriverTransaction,
    cache: Cache,
    request: RechargeRequest,
    key: str,
    now: datetime,
    *,
    account_id: int | None,
) -> Answer:
    """Credit a card once per Idempotency-Key; a recharge first repays credit trips.

    Two statements on the asyncpg connection (see repository): the claim with the card lock
    and what the rules need, then every write. account_id is the account that asked,
    recorded on the recharge and its ledger entries."""
    connection = unit.connection
    request_hash = idempotency.fingerprint(request.model_dump())
    found = await repository.lock_for_recharge(
        connection,
        key=key,
        request_hash=request_hash,
        card_id=request.card_id,
        point_id=request.recharge_point_id,
        at=now,
    )
    if not found.claimed:
        stored = await repository.stored_recharge(connection, key, request_hash)
        return Answer(stored.status_code, stored.body, replayed=True)

    if found.card_id is None:
        raise CardNotFound(request.card_id)
    require_active(found.card_id, found.status)
    if found.point_id is None:
        raise RechargePointNotFound(request.recharge_point_id)
    assert found.point_active is not None
    assert found.point_simulated is not None
    assert found.card_simulated is not None
    require_point_for(
        found.card_id,
        found.card_simulated,
        PointOfSale(found.point_id, found.channel or "", found.point_active, found.point_simulated),
        web=False,
    )
    # A claimed key always draws an id; a found card and point always have these columns.
    assert found.recharge_id is not None
    assert found.channel is not None
    assert found.balance is not None
    assert found.credit_trips_in_use is not None
    policy = fares.require_policy(
        found.policy_id, found.policy_version, found.policy_document, now
    ).policy
    try:
        plan = plan_recharge(
            found.balance, found.credit_trips_in_use, request.amount, policy, RechargeChannel.POS
        )
    except RechargeRejected as exc:
        raise Unprocessable(f"{exc.field}: {exc.message}") from exc

    body = RechargeOut(
        recharge_id=found.recharge_id,
        card_id=found.card_id,
        amount=request.amount,
        new_balance=plan.new_balance,
        credit_repaid=plan.credit_repaid,
        recharge_point_id=found.point_id,
        channel=found.channel,
        recharge_timestamp=now,
    ).model_dump(mode="json")
    await repository.post_recharge(
        connection,
        repository.PostedRecharge(
            recharge_id=found.recharge_id,
            card_id=found.card_id,
            recharge_point_id=found.point_id,
            channel=found.channel,
            amount=request.amount,
            credit_repaid=plan.credit_repaid,
            new_balance=plan.new_balance,
            credit_trips_in_use=plan.credit_trips_in_use_after,
            created_at=now,
            account_id=account_id,
            entries=recharge_entries(found.balance, request.amount, plan.credit_repaid),
            key=key,
            answer=json.dumps(body),
        ),
    )
    if not found.card_simulated:
        # The business counters are real sales; the simulator counts its own recharges.
        unit.after_commit(metrics.recharge_committed(found.channel, request.amount))
    invalidate_after_commit(unit, cache, found.card_id)
    log_event(
        logger,
        "recharge.created",
        card_id=found.card_id,
        amount=request.amount,
        recharge_id=found.recharge_id,
    )
    return Answer(201, body, replayed=False)


def recharge_entries(balance: int, amount: int, credit_repaid: int) -> list[tuple[str, int, int]]:
    """The ledger entries of a recharge as (kind, amount, balance after), in order: one for
    the part that repays credit trips, one for the rest (none for a part of zero)."""
    entries = []
    for kind, part in (("credit_repayment", credit_repaid), ("recharge", amount - credit_repaid)):
        if part == 0:
            continue
        balance += part
        entries.append((kind, part, balance))
    return entries


async def block(
    uow: UnitOfWork, cache: Cache, card_id: int, request: BlockRequest, *, actor: Actor
) -> CardOut:
    card = await lock_card(uow.session, card_id)
    if card.status != "active":
        raise Conflict(f"card {card_id} is {card.status}; only an active card can be blocked")
    await repository.set_status(uow.session, card_id, "blocked", request.reason)
    invalidate_after_commit(uow, cache, card_id)
    # The reason is free text a rider may have typed: it stays in the database, not the log.
    audit("card.blocked", actor, f"card:{card_id}", after_commit=uow)
    return to_out(await require_card(uow.session, card_id))


async def unblock(uow: UnitOfWork, cache: Cache, card_id: int, *, actor: Actor) -> CardOut:
    card = await lock_card(uow.session, card_id)
    if card.status != "blocked":
        raise Conflict(f"card {card_id} is {card.status}; only a blocked card can be unblocked")
    await repository.set_status(uow.session, card_id, "active", None)
    invalidate_after_commit(uow, cache, card_id)
    audit("card.unblocked", actor, f"card:{card_id}", after_commit=uow)
    return to_out(await require_card(uow.session, card_id))


async def replace(uow: UnitOfWork, cache: Cache, card_id: int, key: str, *, actor: Actor) -> Answer:
    """A lost personalized card: retire it, issue a new one, move the balance by the ledger.

    The actor's account is recorded on both balance transfer entries."""
    session = uow.session
    stored = await idempotency.claim(
        session, "card_replace", key, idempotency.fingerprint({"card_id": card_id})
    )
    if stored is not None:
        return Answer(stored.status_code, stored.body, replayed=True)
    old = await lock_card(session, card_id)
    if old.card_type != "personalized":
        raise Conflict(f"card {card_id} is basic: its balance is not recoverable")
    if old.status not in ("active", "blocked"):
        raise Conflict(f"card {card_id} is {old.status} and cannot be replaced")
    moved = old.balance
    # Retire the old card first: the one-card-per-person index must see it gone.
    await repository.set_status(session, old.id, "replaced", "replaced by a new card")
    new = await repository.insert_card(
        session,
        card_type=old.card_type,
        user_id=old.user_id,
        profile=old.profile,
        balance=moved,
        credit_trips_in_use=old.credit_trips_in_use,
        simulated=old.simulated,  # the balance it receives is simulated money too
    )
    await repository.set_status(session, old.id, "replaced", "replaced by a new card", new.id)
    await repository.set_money(session, old.id, balance=0, credit_trips_in_use=0)
    if moved != 0:
        note = "balance moved to the replacement card"
        await ledger.append_entry(
            session,
            card_id=old.id,
            kind="balance_transfer",
            amount=-moved,
            balance_after=0,
            counterpart_card_id=new.id,
            note=note,
            account_id=actor.account_id,
        )
        await ledger.append_entry(
            session,
            card_id=new.id,
            kind="balance_transfer",
            amount=moved,
            balance_after=moved,
            counterpart_card_id=old.id,
            note="balance received from the replaced card",
            account_id=actor.account_id,
        )
    body = ReplacementOut(old_card_id=old.id, new_card=to_out(new), balance_moved=moved)
    answer = body.model_dump(mode="json")
    await idempotency.remember(session, "card_replace", key, 201, answer)
    invalidate_after_commit(uow, cache, old.id, new.id)
    audit(
        "card.replaced",
        actor,
        f"card:{old.id}",
        after_commit=uow,
        new_card_id=new.id,
        amount=moved,
    )
    return Answer(201, answer, replayed=False)
