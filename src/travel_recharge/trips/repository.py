"""SQL of the trips feature."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.cards import service as cards
from travel_recharge.cards.web_recharges import service as web_recharges
from travel_recharge.fares import service as fares
from travel_recharge.finance import service as ledger
from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Route, Trip
from travel_recharge.trips.repricing import repository as repricing

# The tap is the hot path: three statements run by the asyncpg connection itself (see
# db.DriverTransaction), which is what lets HTTP taps approach the throughput of the same
# transaction run by pgbench. The first locks the card and reads the tap's context at once.

# has_pending_web reads with the statement's snapshot: a web payment that committed while
# this tap waited for the card is posted at the card's next station read instead.
_CARD_COLUMNS = f"""
    c.id, c.card_type, c.status, c.balance, c.credit_trips_in_use, c.profile, c.simulated,
    (SELECT s.kind FROM stations s WHERE s.id = $8) AS station_kind,
    (SELECT r.id FROM routes r WHERE r.code = $9) AS route_id,
    (SELECT r.kind FROM routes r WHERE r.code = $9) AS route_kind,
    {web_recharges.has_pending_sql("c.id")} AS has_pending_web
"""  # noqa: S608

_TRIP_COLUMNS = """
    t.id, t.tap_id, t.card_id, t.station_id, t.route_id, r.code AS route_code, t.validator_id,
    t.service_kind, t.event_time, t.fare_charged, t.fare_kind, t.is_transfer, t.credit_used,
    t.benefit_trip_used, t.transfers_in_window, t.window_ends_at, t.balance_after
"""


def _context_columns(counts_benefit_trips: str) -> str:
    """The tap's context as columns over the policy in force (`p`): the same tap_id, a double
    tap, the policy, the transfer window's history, the month's benefit trips when
    `counts_benefit_trips` (an SQL condition) holds. Built from constant fragments only;
    every value is a bind parameter."""
    return f"""
  (SELECT row_to_json(x)::text FROM (
      SELECT {_TRIP_COLUMNS} FROM trips t LEFT JOIN routes r ON r.id = t.route_id
      WHERE t.tap_id = $1) x) AS same_tap,
  (SELECT row_to_json(x)::text FROM (
      SELECT {_TRIP_COLUMNS} FROM trips t LEFT JOIN routes r ON r.id = t.route_id
      WHERE t.card_id = $2 AND t.validator_id = $3
        AND t.event_time BETWEEN $4::timestamptz - $5::interval AND $4::timestamptz + $5::interval
      ORDER BY t.event_time DESC LIMIT 1) x) AS double_tap,
  p.id AS policy_id, p.version AS policy_version, p.document AS policy_document,
  (SELECT json_agg(h ORDER BY h.event_time)::text FROM (
      SELECT t.event_time, t.service_kind, t.route_id, t.station_id,
          coalesce(e.kind, t.fare_kind) AS fare_kind,
          coalesce(e.fare, t.fare_charged) AS fare_charged
      FROM trips t {repricing.effective_sql("t")}
      WHERE t.card_id = $2 AND t.event_time <= $4::timestamptz
        AND t.event_time >= $4::timestamptz
            - p.transfer_window_s * interval '1 second') h
  ) AS history,
  EXISTS (SELECT FROM trips l WHERE l.card_id = $2 AND l.event_time > $4::timestamptz)
      AS has_later,
  CASE WHEN {counts_benefit_trips} THEN (
      SELECT count(*) FROM trips
      WHERE card_id = ANY (ARRAY(
            -- The person's cards: a card replaced mid-month brings no fresh month of trips.
            SELECT o.id FROM cards o
            WHERE o.id = $2 OR o.user_id = (SELECT c.user_id FROM cards c WHERE c.id = $2)))
        AND benefit_trip_used AND event_time >= $6 AND event_time < $7)
  ELSE 0 END AS benefit_trips
"""  # noqa: S608


_POLICY = f"LEFT JOIN LATERAL ({fares.policy_in_force_sql('$4::timestamptz')}) p ON true"

# A statement reads with the snapshot it took when it began, and a lock wait does not renew
# it: the locked card row comes back as it is now, but a tap of the card committed while the
# statement waited is missing from its context. That tap changed the card row, so the card
# row as locked (its xmin) differs from the row in the snapshot: the context is then read
# again, by _TAP_CONTEXT, after the lock. An uncontended tap saves a round trip.
CONTEXT_IS_FRESH = "c.xmin = (SELECT o.xmin FROM cards o WHERE o.id = $2)"
_LOCK_CARD_WITH_CONTEXT = f"""
SELECT {_CARD_COLUMNS}, {CONTEXT_IS_FRESH} AS context_is_fresh,
  {_context_columns("c.profile IS NOT NULL")}
FROM cards c {_POLICY}
WHERE c.id = $2
FOR UPDATE OF c
"""  # noqa: S608

_TAP_CONTEXT = f"""
SELECT {_context_columns("$8::boolean")}
FROM (SELECT 1) AS one {_POLICY}
"""  # noqa: S608

# The tables other features own (the ledger, the card) are written by their fragments.
_FARE_ENTRY = ledger.append_entries_sql(
    card_id="$2",
    kinds="ARRAY['fare']",
    amounts="ARRAY[-$9::bigint]",
    balances_after="ARRAY[$17::bigint]",
    trip_id="(SELECT id FROM trip)",
    account_id="$19",
)
_CARD_CHARGE = cards.charge_for_tap_sql(
    card_id="$2", balance="$17", credit_trips_added="$18::int", used_at="$7"
)
_POST_TAP = f"""
WITH trip AS (
    INSERT INTO trips (tap_id, card_id, validator_id, station_id, route_id, service_kind,
        event_time, received_at, fare_policy_id, fare_charged, fare_kind, is_transfer,
        credit_used, benefit_trip_used, transfers_in_window, window_anchor, window_ends_at,
        balance_after, account_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        $19)
    RETURNING id
), entry AS (
    {_FARE_ENTRY}
), card AS (
    {_CARD_CHARGE}
)
SELECT id FROM trip
"""  # noqa: S608


@dataclass(frozen=True)
class LockedCard:
    id: int
    card_type: str
    status: str
    balance: int
    credit_trips_in_use: int
    profile: str | None
    simulated: bool  # one of the traffic simulator's cards
    station_kind: str | None  # None: no such station (or none given)
    route_id: int | None
    route_kind: str | None
    has_pending_web: bool  # a web recharge waits for the card's next station read


@dataclass(frozen=True)
class PostedTap:
    """A tap as stored (the answer to the tap and to any retry of it)."""

    id: int
    tap_id: uuid.UUID
    card_id: int
    station_id: int | None
    route_id: int | None
    route_code: str | None
    validator_id: str
    service_kind: str
    event_time: datetime
    fare_charged: int
    fare_kind: str
    is_transfer: bool
    credit_used: bool
    benefit_trip_used: bool
    transfers_in_window: int
    window_ends_at: datetime | None
    balance_after: int

    @classmethod
    def from_json(cls, text: str) -> PostedTap:
        row = json.loads(text)
        row["tap_id"] = uuid.UUID(row["tap_id"])
        row["event_time"] = datetime.fromisoformat(row["event_time"])
        if row["window_ends_at"] is not None:
            row["window_ends_at"] = datetime.fromisoformat(row["window_ends_at"])
        return cls(**row)


@dataclass(frozen=True)
class HistoryTap:
    event_time: datetime
    service_kind: str
    route_id: int | None
    station_id: int | None
    fare_kind: str
    fare_charged: int


@dataclass(frozen=True)
class TapContext:
    same_tap: PostedTap | None
    double_tap: PostedTap | None
    policy_id: int | None
    policy_version: str | None
    policy_document: str | None
    history: list[HistoryTap]  # as repriced by late taps (see trips.repricing)
    benefit_trips: int
    has_later: bool  # the card has taps read after this one: it is late


_LOCKED_CARD_FIELDS = tuple(LockedCard.__dataclass_fields__)


async def lock_card_with_context(
    connection: asyncpg.Connection,
    *,
    tap_id: uuid.UUID,
    card_id: int,
    station_id: int | None,
    route_code: str | None,
    validator_id: str,
    event_time: datetime,
    double_tap_window: timedelta,
    benefit_month: tuple[datetime, datetime],
) -> tuple[LockedCard, TapContext] | None:
    """Lock the card and read the tap's context after the lock: in one statement when no
    tap of the card committed while it waited for the lock, else in two. None: no card."""
    arguments = (tap_id, card_id, validator_id, event_time, double_tap_window, *benefit_month)
    row = await connection.fetchrow(_LOCK_CARD_WITH_CONTEXT, *arguments, station_id, route_code)
    if row is None:
        return None
    card = LockedCard(**{name: row[name] for name in _LOCKED_CARD_FIELDS})
    if not row["context_is_fresh"]:
        row = await connection.fetchrow(_TAP_CONTEXT, *arguments, card.profile is not None)
    assert row is not None  # the context query always returns its one row
    return card, _context(row)


def _context(row: asyncpg.Record) -> TapContext:
    return TapContext(
        same_tap=PostedTap.from_json(row["same_tap"]) if row["same_tap"] else None,
        double_tap=PostedTap.from_json(row["double_tap"]) if row["double_tap"] else None,
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        policy_document=row["policy_document"],
        history=[
            HistoryTap(**{**h, "event_time": datetime.fromisoformat(h["event_time"])})
            for h in json.loads(row["history"] or "[]")
        ],
        benefit_trips=int(row["benefit_trips"]),
        has_later=row["has_later"],
    )


async def post_tap(
    connection: asyncpg.Connection,
    tap: PostedTap,
    *,
    policy_id: int,
    window_anchor: datetime | None,
    account_id: int | None,
) -> int:
    """Insert the trip and its ledger entry and store the card's new balance, in one statement;
    both rows record the account that sent the tap."""
    try:
        trip_id = await connection.fetchval(
            _POST_TAP,
            tap.tap_id,
            tap.card_id,
            tap.validator_id,
            tap.station_id,
            tap.route_id,
            tap.service_kind,
            tap.event_time,
            policy_id,
            tap.fare_charged,
            tap.fare_kind,
            tap.is_transfer,
            tap.credit_used,
            tap.benefit_trip_used,
            tap.transfers_in_window,
            window_anchor,
            tap.window_ends_at,
            tap.balance_after,
            int(tap.credit_used),
            account_id,
        )
    except asyncpg.UniqueViolationError as exc:
        # The only unique key a tap can hit: its tap_id, taken meanwhile by another card.
        raise DuplicateTapId(str(tap.tap_id)) from exc
    return int(trip_id)


_OFFLINE_RISK = """
INSERT INTO offline_risks (trip_id, card_id, validator_id, fare_charged, balance_after)
VALUES ($1, $2, $3, $4, $5)
"""


async def record_offline_risk(connection: asyncpg.Connection, trip_id: int, tap: PostedTap) -> None:
    """A tap charged beyond what its card could pay or ride on credit (see models.offline)."""
    await connection.execute(
        _OFFLINE_RISK, trip_id, tap.card_id, tap.validator_id, tap.fare_charged, tap.balance_after
    )


class DuplicateTapId(Exception):
    """The tap_id was used by another card's tap committed meanwhile."""


async def trip_by_id(session: ReadSession, trip_id: int) -> Trip | None:
    return await session.scalar(select(Trip).where(Trip.id == trip_id))


async def lock_trip(session: AsyncSession, trip_id: int) -> Trip | None:
    return await session.scalar(select(Trip).where(Trip.id == trip_id).with_for_update())


async def end_trip(session: AsyncSession, trip_id: int, station_id: int, at: datetime) -> None:
    await session.execute(
        update(Trip).where(Trip.id == trip_id).values(end_station_id=station_id, ended_at=at)
    )


async def trips_of_card(
    session: ReadSession, card_id: int, limit: int, offset: int
) -> list[tuple[Trip, str | None]]:
    result = await session.execute(
        select(Trip, Route.code)
        .outerjoin(Route, Route.id == Trip.route_id)
        .where(Trip.card_id == card_id)
        .order_by(Trip.event_time.desc(), Trip.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(trip, code) for trip, code in result.all()]
