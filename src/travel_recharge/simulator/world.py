"""The simulator's own riders and points of sale: the only ones a run ever touches.

A run used to draw its riders from every active card, so simulated taps charged real cards
and simulated recharges credited them, booked to real points of sale. Now the simulator
makes its riders (users, cards) and points of sale for itself, marked `simulated`, at its
first start, and every later start reuses them, making only what is missing. A new card is
funded once through the cards feature's own recharge, at one of the simulator's points, so
its money is in the ledger like any other; the run's own recharges top it up later. The
clean-up (`purge`) deletes all of it again.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime

from travel_recharge.cards import service as cards
from travel_recharge.cards.schemas import RechargeRequest
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import Database, DriverTransaction, UnitOfWork, driver_in
from travel_recharge.kit.logs import log_event
from travel_recharge.simulator import own_repository as own
from travel_recharge.simulator.choices import FareFacts, recharge_amount
from travel_recharge.simulator.repository import SampledCard

logger = logging.getLogger("travel_recharge.simulator")

# Points of sale the riders recharge at (kiosks of no locality, never listed to riders).
POINTS_OF_SALE = 4
# Transfers are for personalized cards only (the policy's rule): most riders have one.
PERSONALIZED_SHARE = 0.7
# Every Idempotency-Key the simulator sends starts with this: the clean-up deletes only
# records of such keys (and of those, only the ones that answered for a simulated card).
KEY_PREFIX = "sim-"


def idempotency_key() -> str:
    """A fresh key: every simulated recharge is a new purchase, never a retry."""
    return f"{KEY_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class OwnWorld:
    cards: list[SampledCard]
    points: list[int]
    new_riders: int  # made (and funded) by this start


async def provision(
    database: Database,
    cache: Cache,
    riders: int,
    rng: random.Random,
    facts: FareFacts,
    now: datetime,
    *,
    account_id: int | None,
) -> OwnWorld:
    """The simulator's riders and points of sale, made where missing, in one transaction.

    account_id: who asked (the operator starting the run), recorded on the funding recharges."""
    async with database.write_sessions() as session:
        uow = UnitOfWork(session)
        await own.lock_data(session)
        points = await own.ensure_points(session, POINTS_OF_SALE)
        ridden = await own.rider_cards(session, riders)
        made: list[int] = []
        funding: DriverTransaction | None = None
        if len(ridden) < riders:
            missing = riders - len(ridden)
            personalized = round(missing * PERSONALIZED_SHARE)
            tag = uuid.uuid4().hex[:12]
            made = await own.insert_riders(session, tag, personalized, missing - personalized)
            # Funded through the recharge path itself, in this transaction.
            funding = await driver_in(session)
            for card_id in made:
                amount = recharge_amount(rng, facts.max_balance, facts)
                if amount is None:
                    continue  # a policy whose smallest recharge exceeds its maximum balance
                request = RechargeRequest(
                    card_id=card_id, amount=amount, recharge_point_id=rng.choice(points)
                )
                await cards.recharge(
                    funding, cache, request, idempotency_key(), now, account_id=account_id
                )
            ridden = await own.rider_cards(session, riders)
        await uow.commit()
        if funding is not None:
            await funding.run_hooks()
    if made:
        log_event(logger, "simulator.riders_created", riders=len(made), points=len(points))
    return OwnWorld(ridden, points, len(made))
