"""SQL of repricings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from travel_recharge.cards import service as cards
from travel_recharge.finance import service as ledger


def effective_sql(trip: str) -> str:
    """A LATERAL join giving `e.kind` and `e.fare`, the latest repricing of the trip aliased
    `trip` (both NULL when it was never repriced): coalesced with the trip's own, they are
    what later taps are priced against. An index probe per trip of a tap's history."""
    return (
        "LEFT JOIN LATERAL (SELECT r.fare_kind_now AS kind, r.fare_now AS fare"  # noqa: S608
        f" FROM repricings r WHERE r.trip_id = {trip}.id ORDER BY r.id DESC LIMIT 1) e ON true"
    )


@dataclass(frozen=True)
class LaterTap:
    """A tap of the card read after the late one, as it counts now (repricings applied)."""

    id: int
    event_time: datetime
    service_kind: str
    route_id: int | None
    station_id: int | None
    fare_policy_id: int
    fare_kind: str
    fare_charged: int
    benefit_trip_used: bool


_LATER = f"""
SELECT t.id, t.event_time, t.service_kind, t.route_id, t.station_id, t.fare_policy_id,
       coalesce(e.kind, t.fare_kind) AS fare_kind, coalesce(e.fare, t.fare_charged) AS fare_charged,
       t.benefit_trip_used
FROM trips t {effective_sql("t")}
WHERE t.card_id = $1 AND t.event_time > $2 AND t.id <> $3
ORDER BY t.event_time, t.id
"""  # noqa: S608


async def later_taps(
    connection: asyncpg.Connection, card_id: int, after: datetime, late_trip_id: int
) -> list[LaterTap]:
    rows = await connection.fetch(_LATER, card_id, after, late_trip_id)
    return [LaterTap(**row) for row in rows]


# The settlement in one statement: the adjustment entry and the card's new balance (only when
# the fares changed), and a row per repriced tap naming the entry.
_ENTRY = ledger.append_entry_sql(
    card_id="$1",
    kind="'adjustment'",
    amount="$3::bigint",
    balance_after="$4::bigint",
    trip_id="$2::bigint",
    note="$6::text",
    account_id="$7::bigint",
    when="$3::bigint <> 0",
)
_CARD = cards.set_money_sql(
    card_id="$1::bigint",
    balance="$4::bigint",
    credit_trips_in_use="$5::int",
    when="$3::bigint <> 0",
)
_SETTLE = f"""
WITH entry AS (
    {_ENTRY}
), card AS (
    {_CARD}
), repriced AS (
    INSERT INTO repricings (card_id, late_trip_id, trip_id, fare_was, fare_now, fare_kind_now,
        ledger_entry_id)
    SELECT $1::bigint, $2::bigint, u.trip_id, u.fare_was, u.fare_now, u.fare_kind_now,
        (SELECT id FROM entry)
    FROM unnest($8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
        AS u(trip_id, fare_was, fare_now, fare_kind_now)
)
SELECT (SELECT id FROM entry)
"""  # noqa: S608


@dataclass(frozen=True)
class Settlement:
    card_id: int
    late_trip_id: int
    amount: int  # > 0 credits the card
    balance_after: int
    credit_trips_in_use: int
    note: str
    account_id: int | None
    changes: Sequence[tuple[int, int, int, str]]  # (trip, fare was, fare now, kind now)


async def settle(connection: asyncpg.Connection, settlement: Settlement) -> int | None:
    """Record the repricings and settle them; the ledger entry's id (None: no fare changed)."""
    trips, was, now, kinds = zip(*settlement.changes, strict=True)
    entry_id = await connection.fetchval(
        _SETTLE,
        settlement.card_id,
        settlement.late_trip_id,
        settlement.amount,
        settlement.balance_after,
        settlement.credit_trips_in_use,
        settlement.note,
        settlement.account_id,
        list(trips),
        list(was),
        list(now),
        list(kinds),
    )
    return None if entry_id is None else int(entry_id)
