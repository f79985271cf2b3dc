"""Every SQL statement on the simulator's own rows: made, found, and cleaned up.

The simulator rides only riders, cards, points of sale and device accounts it made for
itself, each marked `simulated` (migration 0006). These statements write other features'
tables directly, as the simulator's sampling reads them: no other feature has a use for
"every simulated row", and cleaning them up is a set of deletes, not a business rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cards.numbers import card_number_for
from travel_recharge.models import Account, Card, RechargePoint, User
from travel_recharge.security.devices import Binding
from travel_recharge.simulator.repository import SampledCard

# Making the simulator's rows and cleaning them up hold this lock until they commit, so a
# clean-up never deletes what a starting run is making, nor the other way round.
_DATA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('travel_recharge.simulator_data'))"
# The rollup folder's lock (rollup_sql.FOLD): held while simulated rollup rows go.
_FOLD_LOCK = "SELECT pg_advisory_xact_lock(hashtext('travel_recharge.fold_rollup_deltas'))"
# The setting the ledger's append-only guard reads (migrations/simulated_sql.py): a
# transaction that sets it may delete the ledger entries of simulated cards, and no others.
PURGE_SETTING = "travel_recharge.purge_simulated"
# Kiosks: a made-up shop, in no locality.
POINT_CHANNEL = "kiosk"


async def lock_data(session: AsyncSession) -> None:
    await session.execute(text(_DATA_LOCK))


# --- points of sale --------------------------------------------------------------------------


async def ensure_points(session: AsyncSession, count: int) -> list[int]:
    """The ids of `count` active simulated recharge points, made if missing."""
    existing = list(
        await session.scalars(
            select(RechargePoint.id).where(RechargePoint.simulated).order_by(RechargePoint.id)
        )
    )
    missing = [f"Simulated point of sale {n}" for n in range(len(existing) + 1, count + 1)]
    if missing:
        made = await session.scalars(
            insert(RechargePoint)
            .values(
                [{"name": name, "channel": POINT_CHANNEL, "simulated": True} for name in missing]
            )
            .returning(RechargePoint.id)
        )
        existing += list(made)
    points = sorted(existing)[:count]
    await session.execute(
        update(RechargePoint).where(RechargePoint.id.in_(points)).values(active=True)
    )
    return points


# --- riders ----------------------------------------------------------------------------------


async def rider_cards(session: AsyncSession, limit: int) -> list[SampledCard]:
    """Up to `limit` active simulated cards, oldest first (ix_cards_simulated)."""
    query = (
        select(Card.id, Card.balance)
        .where(Card.simulated, Card.status == "active")
        .order_by(Card.id)
        .limit(limit)
    )
    return [SampledCard(r.id, r.balance) for r in (await session.execute(query)).all()]


async def insert_riders(
    session: AsyncSession, tag: str, personalized: int, basic: int
) -> list[int]:
    """New simulated cards (`personalized` of them owned by new simulated riders); their ids.

    `tag` makes the riders' document ids unique (they are made-up: SIM-<tag>-<n>)."""
    owners: list[int] = []
    if personalized:
        owners = list(
            await session.scalars(
                pg_insert(User)
                .values(
                    [
                        {
                            "full_name": f"Simulated rider {n}",
                            "document_id": f"SIM-{tag}-{n}",
                            "simulated": True,
                        }
                        for n in range(1, personalized + 1)
                    ]
                )
                .on_conflict_do_nothing(index_elements=[User.document_id])
                .returning(User.id)
            )
        )
    count = len(owners) + basic
    # A card's number is derived from its id, so the ids are drawn first (cards.repository).
    ids = list(
        await session.scalars(
            text("SELECT nextval('cards_id_seq') FROM generate_series(1, :n)"), {"n": count}
        )
    )
    rows = [
        {
            "id": card_id,
            "card_number": card_number_for(card_id),
            "card_type": "personalized" if owner is not None else "basic",
            "user_id": owner,
            "simulated": True,
        }
        for card_id, owner in zip(ids, [*owners, *([None] * basic)], strict=True)
    ]
    if rows:
        await session.execute(insert(Card), rows)
    return [int(card_id) for card_id in ids]


# --- device accounts -------------------------------------------------------------------------


async def device_accounts(session: AsyncSession, role: str) -> list[Account]:
    """The simulator's device accounts of `role`, oldest first."""
    found = await session.scalars(
        select(Account).where(Account.simulated, Account.role == role).order_by(Account.id)
    )
    return list(found)


async def insert_device_accounts(
    session: AsyncSession, new: Sequence[tuple[str, Binding]], role: str, secret_hash: str
) -> None:
    """New device accounts, each with its binding, inactive until a run binds and activates
    them; a login someone else took is left out (the caller counts)."""
    if not new:
        return
    await session.execute(
        pg_insert(Account)
        .values(
            [
                {
                    "login": login,
                    "kind": "client",
                    "role": role,
                    "user_id": None,
                    "secret_hash": secret_hash,
                    "validator_id": binding.validator_id,
                    "recharge_point_id": binding.recharge_point_id,
                    "active": False,
                    "simulated": True,
                }
                for login, binding in new
            ]
        )
        .on_conflict_do_nothing(index_elements=[Account.login])
    )


async def bind_and_activate(
    session: AsyncSession, chosen: Sequence[tuple[Account, Binding]]
) -> None:
    """Activate these accounts, each bound to its device (the database refuses an active
    device account without a binding: ck_accounts_active_devices_bound). Set on the loaded
    rows, so their principals carry the binding; a flush updates only what changed."""
    for account, binding in chosen:
        account.validator_id = binding.validator_id
        account.recharge_point_id = binding.recharge_point_id
        account.active = True
    await session.flush()


async def set_accounts_active(session: AsyncSession, ids: Sequence[int], active: bool) -> None:
    await session.execute(
        update(Account).where(Account.simulated, Account.id.in_(ids)).values(active=active)
    )


# --- clean-up --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind a clean-up deleted."""

    card_ids: list[int]
    idempotency_records: int
    adjustments: int
    ledger_entries: int
    repricings: int
    offline_risks: int
    trips: int
    web_recharges: int
    recharges: int
    accounts: int
    cards: int
    users: int
    recharge_points: int
    rollup_rows: int


_SIMULATED_CARDS = "SELECT id FROM cards WHERE simulated"
# In order: what refers to a simulated card goes before the card, cards before their riders,
# recharges before their points of sale. Constant statements: nothing is bound in.
_PURGE = {
    # Only records of the simulator's own keys (sim-...), and of those only the ones that
    # answered for a simulated card: a real client's record is never touched, whatever key
    # it chose (a lost record would let a retry charge twice).
    "idempotency_records": "DELETE FROM idempotency_records WHERE scope = 'recharge'"
    " AND key LIKE 'sim-%'"
    " AND (response ->> 'card_id')::bigint IN (SELECT id FROM cards WHERE simulated)",
    # Adjustments refer to the ledger entries, trips and recharges they correct.
    "adjustments": "DELETE FROM adjustments"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "ledger_entries": "DELETE FROM ledger_entries"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "repricings": "DELETE FROM repricings WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "offline_risks": "DELETE FROM offline_risks"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "trips": "DELETE FROM trips WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    # They refer to the recharges they became.
    "web_recharges": "DELETE FROM web_recharges"
    " WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    "recharges": "DELETE FROM recharges WHERE card_id IN (SELECT id FROM cards WHERE simulated)",
    # The simulator's devices, and any account someone gave one of its riders.
    "accounts": "DELETE FROM accounts WHERE simulated"
    " OR user_id IN (SELECT id FROM users WHERE simulated)",
    "cards": "DELETE FROM cards WHERE simulated",
    "users": "DELETE FROM users WHERE simulated",
    "recharge_points": "DELETE FROM recharge_points WHERE simulated",
}
_PURGE_ROLLUPS = tuple(
    f"DELETE FROM {table} WHERE simulated"  # noqa: S608  (constant table names)
    for table in (
        "rollup_deltas",
        "rollup_totals",
        "rollup_hours",
        "rollup_station_days",
        "rollup_station_timelines",
    )
)


async def purge(session: AsyncSession) -> Purged:
    """Delete every simulated row, in the caller's transaction (which holds lock_data)."""
    # The cards first, locked: a tap or recharge of one of them waits for this transaction
    # and then finds no card, instead of adding a row that refers to a deleted one.
    card_ids = [int(i) for i in await session.scalars(text(_SIMULATED_CARDS + " FOR UPDATE"))]
    # Tells the ledger's append-only guard (simulated_sql) that this transaction may delete
    # the entries of simulated cards; set_config(..., true) lasts until the transaction ends.
    await session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": PURGE_SETTING})
    counts: dict[str, int] = {}
    for name, statement in _PURGE.items():
        result = await session.execute(text(statement))
        counts[name] = int(result.rowcount)  # type: ignore[attr-defined]
    await session.execute(text(_FOLD_LOCK))
    rollup_rows = 0
    for statement in _PURGE_ROLLUPS:
        result = await session.execute(text(statement))
        rollup_rows += int(result.rowcount)  # type: ignore[attr-defined]
    return Purged(card_ids=card_ids, rollup_rows=rollup_rows, **counts)
