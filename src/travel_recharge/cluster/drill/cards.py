"""What a drill works on: cards of its own, and the plan that says where its devices send
what with which tokens.

Each drill taps and recharges cards of its own (prepare_drill makes them), so drills run one
after another against the same database never see each other's money, and the checker can
hold every trip and recharge on them to the drill's log. The tap cards start at the maximum
balance (taps never run short) with the ledger entry that explains it; the recharge cards
start empty (about seventy recharges fit before the maximum).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from travel_recharge.kit.scratch import libpq_url
from travel_recharge.security.roles import Role

OPENING_BALANCE = 418_000  # the maximum balance of a basic card: taps never run short
RECHARGE_AMOUNTS = (2_000, 5_000, 10_000)


@dataclass(frozen=True)
class DrillCards:
    """The drill's own cards and devices, made by prepare_drill."""

    tap_cards: list[int]
    recharge_cards: list[int]
    station_id: int
    recharge_point_id: int
    account_id: int

    @property
    def all_cards(self) -> list[int]:
        return [*self.tap_cards, *self.recharge_cards]


async def prepare_drill(database_url: str, tap_cards: int, recharge_cards: int) -> DrillCards:
    """Make the drill's cards (tap cards at the maximum balance with the ledger entry that
    explains it, empty recharge cards) and, once per database, its station, counter and
    account, through a connection to the primary (the schema owner)."""
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        async with connection.transaction():
            account_id = await connection.fetchval(
                "INSERT INTO accounts (login, kind, role, secret_hash, active)"
                " VALUES ('drill', 'person', 'admin', '!', false)"
                " ON CONFLICT (login) DO UPDATE SET active = false RETURNING id"
            )
            await connection.execute(
                "INSERT INTO localities (code, name) VALUES ('11', 'Suba') ON CONFLICT DO NOTHING"
            )
            station_id = await connection.fetchval(
                "INSERT INTO stations (code, name, kind, corridor, locality_code, latitude,"
                " longitude) VALUES ('09990', 'Drill portal', 'portal', 'B', '11', 4.754,"
                " -74.046) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"
            )
            point_id = await connection.fetchval(
                "SELECT id FROM recharge_points WHERE name = 'Drill counter'"
            ) or await connection.fetchval(
                "INSERT INTO recharge_points (name, locality_code, channel)"
                " VALUES ('Drill counter', '11', 'counter') RETURNING id"
            )
            taps = await _new_cards(connection, tap_cards, OPENING_BALANCE)
            recharges = await _new_cards(connection, recharge_cards, 0)
    finally:
        await connection.close()
    return DrillCards(taps, recharges, station_id, point_id, account_id)


async def _new_cards(connection: asyncpg.Connection, count: int, balance: int) -> list[int]:
    rows = await connection.fetch(
        "INSERT INTO cards (card_number, card_type, balance)"
        " SELECT lpad((9000000000000000 + nextval('cards_id_seq'))::text, 16, '0'), 'basic', $2"
        " FROM generate_series(1, $1) RETURNING id",
        count,
        balance,
    )
    ids = sorted(row["id"] for row in rows)
    if balance:
        await connection.execute(
            "INSERT INTO ledger_entries (card_id, kind, amount, balance_after, note)"
            " SELECT id, 'adjustment', $2, $2, 'drill opening balance' FROM unnest($1::bigint[])"
            " AS id",
            ids,
            balance,
        )
    return ids


class Authorize(Protocol):
    """Makes an Authorization header the service accepts (each test suite signs with the
    key its servers share)."""

    def __call__(
        self, role: Role, *, account_id: int, recharge_point_id: int | None = None
    ) -> dict[str, str]: ...


@dataclass(frozen=True)
class DrillPlan:
    """Where the drill sends what, how many devices of each kind, and how they behave."""

    front_url: str
    cards: DrillCards
    tap_headers: Mapping[str, str]  # a token that may tap at any validator id
    recharge_headers: Mapping[str, str]  # a recharge point's token, bound to the counter
    tappers: int = 3
    points_of_sale: int = 1
    readers: int = 0  # devices reading balances and ledgers (a rider's app)
    request_timeout_s: float = 5.0
    give_up_after_s: float = 90.0  # a device keeps retrying one operation this long
    # The bug a checker must catch: a retry after an unknown outcome sent as a new
    # operation (a new tap_id or Idempotency-Key), so the service applies it again.
    new_key_on_retry: bool = False

    @classmethod
    def authorized(cls, front_url: str, cards: DrillCards, authorize: Authorize) -> DrillPlan:
        """The plan with the default fleet, its tokens naming the drill's account (the
        trips and recharges record it); dataclasses.replace changes the rest."""
        return cls(
            front_url,
            cards,
            tap_headers=authorize(Role.admin, account_id=cards.account_id),
            recharge_headers=authorize(
                Role.recharge_point,
                account_id=cards.account_id,
                recharge_point_id=cards.recharge_point_id,
            ),
        )
