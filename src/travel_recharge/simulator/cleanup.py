"""Cleaning up after the simulator: every simulated row goes, and the ledger still verifies.

Deletes the simulator's riders, cards, points of sale and device accounts, and everything
their cards caused: trips, recharges, ledger entries (a whole card's entries with the card,
so every remaining card's balance still equals its ledger sum), the idempotency records of
their recharges and their rows in the analytics rollups. Refused while a run is going.
"""

from __future__ import annotations

import logging

from travel_recharge.cards import service as cards
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import Database, UnitOfWork
from travel_recharge.kit.errors import Conflict
from travel_recharge.kit.logs import log_event
from travel_recharge.simulator import own_repository as own
from travel_recharge.simulator.control import Control
from travel_recharge.simulator.schemas import SimulatedDataRemoved

logger = logging.getLogger("travel_recharge.simulator")


async def purge(database: Database, cache: Cache, control: Control) -> SimulatedDataRemoved:
    """Delete every simulated row in one transaction; Conflict while a run holds the lease."""
    async with database.write_sessions() as session:
        uow = UnitOfWork(session)
        # The lease is read under the lock a start's making of rows takes too: a start that
        # took the lease before is refused here, one that takes it after waits for this
        # transaction to end before it makes its riders anew.
        await own.lock_data(session)
        running = (await control.read()).lease_owner
        if running is not None:
            raise Conflict(
                f"a simulation is running (run {running}); stop it before removing its data"
            )
        purged = await own.purge(session)
        # A deleted card's cached views (balance, history) must not outlive it.
        cards.invalidate_after_commit(uow, cache, *purged.card_ids)
        await uow.commit()
    removed = SimulatedDataRemoved(
        users=purged.users,
        cards=purged.cards,
        trips=purged.trips,
        recharges=purged.recharges,
        ledger_entries=purged.ledger_entries,
        recharge_points=purged.recharge_points,
        accounts=purged.accounts,
        idempotency_records=purged.idempotency_records,
        rollup_rows=purged.rollup_rows,
    )
    log_event(logger, "simulator.data_removed", **removed.model_dump())
    return removed
