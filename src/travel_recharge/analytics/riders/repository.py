"""SQL of rider behaviour: the daily job's rider days and figures, and the stored answer.

Real riders only: the rider days come from the flows job's stream of real cards' taps, and the
recharges and dormant cards leave simulated cards out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import RiderDay, RiderSnapshot

# Recharge amounts and the days between a card's recharges, in reporting bins: the lower edge
# of each bin after the first (width_bucket's edges).
AMOUNT_EDGES = (10_000, 20_000, 30_000, 50_000, 100_000)
GAP_EDGES = (1, 2, 4, 8, 15, 31)

TABLES = ("rider_days", "rider_snapshots")  # what the daily job writes

_STORE = text(
    "INSERT INTO rider_days (day, card_id, trips, transfers, credit_trips)"
    " SELECT :day, * FROM unnest(CAST(:cards AS bigint[]), CAST(:trips AS smallint[]),"
    " CAST(:transfers AS smallint[]), CAST(:credit AS smallint[]))"
)
_DAILY = text(
    "SELECT day, count(*), sum(trips) FROM rider_days WHERE day BETWEEN :first AND :last"
    " GROUP BY day ORDER BY day"
)
_DISTINCT = text(
    "SELECT count(DISTINCT card_id) FROM rider_days WHERE day BETWEEN :first AND :last"
)
# A card's segment over the window: an anonymous basic card, else its profile, else by how
# regularly it rode on weekdays.
_SEGMENTS = text(
    "WITH w AS (SELECT card_id, count(*) AS days,"
    " count(*) FILTER (WHERE extract(isodow FROM day) < 6) AS weekdays, sum(trips) AS trips,"
    " sum(transfers) AS transfers, sum(credit_trips) AS credit"
    " FROM rider_days WHERE day BETWEEN :first AND :last GROUP BY card_id)"
    " SELECT CASE WHEN c.card_type = 'basic' THEN 'basic'"
    " WHEN c.profile IS NOT NULL THEN c.profile"
    " WHEN w.weekdays >= :regular THEN 'regular_commuter' ELSE 'occasional' END,"
    " count(*), sum(w.days), sum(w.trips), sum(w.transfers), sum(w.credit)"
    " FROM w JOIN cards c ON c.id = w.card_id GROUP BY 1 ORDER BY 1"
)
# The window's recharges with the days since each card's previous one (null: its first), in a
# temporary table the three figures below read.
_WINDOW_RECHARGES = text(
    "CREATE TEMPORARY TABLE window_recharges ON COMMIT DROP AS"
    " SELECT r.amount, extract(epoch FROM r.created_at - p.created_at) / 86400 AS gap"
    " FROM recharges r JOIN cards c ON c.id = r.card_id"
    " LEFT JOIN LATERAL (SELECT q.created_at FROM recharges q WHERE q.card_id = r.card_id"
    " AND q.created_at < r.created_at ORDER BY q.created_at DESC LIMIT 1) p ON true"
    " WHERE NOT c.simulated AND r.created_at >= :start AND r.created_at < :end"
)
_RECHARGE_TOTALS = text(
    "SELECT count(*), coalesce(sum(amount), 0),"
    " percentile_disc(0.5) WITHIN GROUP (ORDER BY amount),"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM window_recharges"
)
_AMOUNT_BINS = text(
    "SELECT width_bucket(amount, CAST(:edges AS bigint[])), count(*) FROM window_recharges"
    " GROUP BY 1"
)
_GAP_BINS = text(
    "SELECT coalesce(width_bucket(gap, CAST(:edges AS float8[])), -1), count(*)"
    " FROM window_recharges GROUP BY 1"
)
# Active cards issued before the 30 days, and those of them with no trip in the 30 days (an
# index probe per card on ix_trips_card_id_event_time).
_DORMANT = text(
    "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM trips t"
    " WHERE t.card_id = c.id AND t.event_time >= :since AND t.event_time < :end))"
    " FROM cards c WHERE c.status = 'active' AND NOT c.simulated AND c.created_at < :since"
)


async def store_days(
    connection: AsyncConnection, day: date, rows: Sequence[tuple[int, int, int, int]]
) -> None:
    """Replace the day's rider rows: (card, trips, transfers, credit trips)."""
    await connection.execute(delete(RiderDay).where(RiderDay.day == day))
    if rows:
        columns = list(zip(*rows, strict=True))
        await connection.execute(
            _STORE,
            {
                "day": day,
                "cards": list(columns[0]),
                "trips": list(columns[1]),
                "transfers": list(columns[2]),
                "credit": list(columns[3]),
            },
        )


async def forget_days_before(connection: AsyncConnection, day: date) -> None:
    await connection.execute(delete(RiderDay).where(RiderDay.day < day))


async def daily(
    connection: AsyncConnection, first: date, last: date
) -> list[tuple[date, int, int]]:
    rows = await connection.execute(_DAILY, {"first": first, "last": last})
    return [(day, int(cards), int(trips)) for day, cards, trips in rows.all()]


async def distinct_cards(connection: AsyncConnection, first: date, last: date) -> int:
    found = await connection.execute(_DISTINCT, {"first": first, "last": last})
    return int(found.scalar_one())


async def segments(
    connection: AsyncConnection, first: date, last: date, regular_weekdays: int
) -> list[tuple[str, int, int, int, int, int]]:
    """(segment, cards, active days, trips, transfers, credit trips)."""
    params = {"first": first, "last": last, "regular": regular_weekdays}
    rows = await connection.execute(_SEGMENTS, params)
    return [(str(row[0]), *(int(v) for v in row[1:])) for row in rows.all()]  # type: ignore[misc]


async def recharges(
    connection: AsyncConnection, start: datetime, end: datetime
) -> tuple[tuple[int, int, int | None, float | None], dict[int, int], dict[int, int]]:
    """The recharges from `start` to `end`: (count, pesos, median amount, median days since
    the card's previous one); counts by amount bin (0: below the first edge); counts by bin
    of days since the previous one (-1: the card's first)."""
    await connection.execute(text("DROP TABLE IF EXISTS window_recharges"))
    await connection.execute(_WINDOW_RECHARGES, {"start": start, "end": end})
    row = (await connection.execute(_RECHARGE_TOTALS)).one()
    median_gap = None if row[3] is None else round(float(row[3]), 1)
    totals = (int(row[0]), int(row[1]), None if row[2] is None else int(row[2]), median_gap)
    amounts = await connection.execute(_AMOUNT_BINS, {"edges": list(AMOUNT_EDGES)})
    gaps = await connection.execute(_GAP_BINS, {"edges": [float(e) for e in GAP_EDGES]})
    return (
        totals,
        {int(b): int(n) for b, n in amounts.all()},
        {int(b): int(n) for b, n in gaps.all()},
    )


async def dormant(connection: AsyncConnection, since: datetime, end: datetime) -> tuple[int, int]:
    """(active cards issued before `since`, those with no trip from `since` to `end`)."""
    row = (await connection.execute(_DORMANT, {"since": since, "end": end})).one()
    return int(row[0]), int(row[1])


async def store_snapshot(connection: AsyncConnection, day: date, answer: str) -> None:
    statement = insert(RiderSnapshot).values(day=day, answer=answer)
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=[RiderSnapshot.day], set_={"answer": statement.excluded.answer}
        )
    )


async def stored_answer(session: ReadSession, day: date | None) -> str | None:
    """The figures of `day`, or of the latest day counted."""
    query = select(RiderSnapshot.answer)
    query = (
        query.where(RiderSnapshot.day == day)
        if day
        else query.order_by(RiderSnapshot.day.desc()).limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()
