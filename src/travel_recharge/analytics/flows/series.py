"""Cumulative series: the flows with many keys a day, summed over any range of days in two
array elements per key.

Each key (a locality or station pair, a pair of lines, a transfer place) has a row per band
whose arrays hold running totals: element k is the sum of days first_day .. first_day + k - 1.
Every row covers the same days, so the total of days a..b is totals[b] - totals[a - 1]
(migration 0013).

A new day extends every row by the days since the last (gap days repeat the last total) and
adds its counts, each row written once; a recounted day (a late tap) moves every later total
of the keys whose count changed by the difference (flow_shift, a SQL function). Keys seen for
the first time get a row of zeros up to that day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    FlowSeriesState,
    LocalityFlowSeries,
    StationFlowSeries,
    TransferLineDaySeries,
    TransferLineSeries,
    TransferPlaceSeries,
)

# Identifiers spliced into the SQL below come only from the tables' own definitions, never
# from a request.
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Family:
    """A series table: its keys are its primary key after the band, its totals its arrays
    (migration 0013). The day's rows of a family come in that order: band, keys, counts."""

    model: type[Any]

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def keys(self) -> tuple[str, ...]:
        primary = self.model.__table__.primary_key.columns
        return tuple(column.name for column in primary if column.name != "band")

    @property
    def key_types(self) -> tuple[str, ...]:
        columns = self.model.__table__.columns
        return tuple(str(columns[key].type.compile(dialect=_DIALECT)) for key in self.keys)

    @property
    def totals(self) -> tuple[str, ...]:
        columns = self.model.__table__.columns
        return tuple(column.name for column in columns if isinstance(column.type, ARRAY))

    @property
    def grand_total(self) -> Any:
        """Each key's total over every day the series holds (its arrays' last elements), the
        expression of its index (migration 0015)."""
        arrays = [getattr(self.model, total) for total in self.totals]
        last = [array[func.cardinality(array)] for array in arrays]
        return last[0] if len(last) == 1 else last[0] + last[1]

    @property
    def match(self) -> str:
        return " AND ".join(f"t.{column} = d.{column}" for column in ("band", *self.keys))


LOCALITIES = Family(LocalityFlowSeries)
STATIONS = Family(StationFlowSeries)
LINES = Family(TransferLineSeries)
LINES_WHOLE_DAY = Family(TransferLineDaySeries)
PLACES = Family(TransferPlaceSeries)
FAMILIES = (LOCALITIES, STATIONS, LINES, LINES_WHOLE_DAY, PLACES)


@dataclass(frozen=True, slots=True)
class Span:
    """The days the series cover."""

    first: date
    last: date

    def element(self, day: date) -> int:
        return (day - self.first).days + 1

    @property
    def length(self) -> int:
        return self.element(self.last)


async def span(connection: AsyncConnection | ReadSession) -> Span | None:
    state = FlowSeriesState
    query = select(state.first_day, state.last_day).where(state.id == 1)
    row = (await connection.execute(query)).first()
    return None if row is None else Span(row[0], row[1])


async def reset(connection: AsyncConnection) -> None:
    """Empty every series (a day before the first one came in: they are rebuilt). DELETE:
    the service's role may not TRUNCATE (migrations/grants.py)."""
    for table in ("flow_series_state", *(family.table for family in FAMILIES)):
        await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608


async def store_day(
    connection: AsyncConnection, day: date, rows: Mapping[Family, Sequence[tuple[Any, ...]]]
) -> None:
    """Set the day's counts of each family (rows of band, *keys, *counts; a key absent counts
    0 that day). A day after the series' last extends them; an earlier one is recounted. A
    day before their first is not taken (the caller resets them: reset)."""
    before = await span(connection)
    if before is not None and day < before.first:
        raise ValueError(f"day: {day} is before the series' first day {before.first}")
    if before is None or day > before.last:
        # Every family, even one without a row that day: all rows must reach the day.
        for family in FAMILIES:
            await _load_day(connection, family, rows.get(family, ()))
            await _append(connection, family, before, day)
        await connection.execute(
            text(
                "INSERT INTO flow_series_state (id, first_day, last_day) VALUES (1, :d, :d)"
                " ON CONFLICT (id) DO UPDATE SET last_day = EXCLUDED.last_day"
            ),
            {"d": day},
        )
        return
    for family in FAMILIES:
        await _load_day(connection, family, rows.get(family, ()))
        await _recount(connection, family, before, day)


async def _load_day(
    connection: AsyncConnection, family: Family, rows: Sequence[tuple[Any, ...]]
) -> None:
    """The day's rows of a family into the temporary table flow_day."""
    columns = ("band", *family.keys, *family.totals)
    types = ("text", *family.key_types, *("integer" for _ in family.totals))
    await connection.execute(text("DROP TABLE IF EXISTS flow_day"))
    typed = ", ".join(f"u.{c}::{t} AS {c}" for c, t in zip(columns, types, strict=True))
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(columns, types, strict=True))
    made = f"CREATE TEMPORARY TABLE flow_day ON COMMIT DROP AS SELECT {typed}"
    await connection.execute(
        text(f"{made} FROM unnest({arrays}) AS u({', '.join(columns)})"),
        {column: [row[i] for row in rows] for i, column in enumerate(columns)},
    )


async def _append(
    connection: AsyncConnection, family: Family, before: Span | None, day: date
) -> None:
    """Extend every row to `day`, each written once: the days between repeat its last total,
    the day adds its count; a new key gets zeros up to the day."""
    table, length = family.table, 0 if before is None else before.length
    added = 1 if before is None else (day - before.last).days
    if length:
        counted = ", ".join(
            f"{t} = t.{t} || array_fill(t.{t}[{length}], ARRAY[{added - 1}])"
            f" || (t.{t}[{length}] + d.{t})"
            for t in family.totals
        )
        await connection.execute(
            text(f"UPDATE {table} t SET {counted} FROM flow_day d WHERE {family.match}")  # noqa: S608
        )
        repeated = ", ".join(
            f"{t} = t.{t} || array_fill(t.{t}[{length}], ARRAY[{added}])" for t in family.totals
        )
        absent = f"NOT EXISTS (SELECT 1 FROM flow_day d WHERE {family.match})"  # noqa: S608
        await connection.execute(
            text(f"UPDATE {table} t SET {repeated} WHERE {absent}")  # noqa: S608
        )
    started = ", ".join(
        f"array_fill(0, ARRAY[{length + added - 1}]) || d.{t}" for t in family.totals
    )
    await _insert_new_keys(connection, family, started)


async def _recount(connection: AsyncConnection, family: Family, covered: Span, day: date) -> None:
    """Move each key's totals from the day on by its new count minus the one they hold."""
    k, length, table = covered.element(day), covered.length, family.table
    held = {t: f"(t.{t}[{k}] - coalesce(t.{t}[{k - 1}], 0))" for t in family.totals}
    moved = ", ".join(f"{t} = flow_shift(t.{t}, {k}, d.{t} - {held[t]})" for t in family.totals)
    await connection.execute(
        text(f"UPDATE {table} t SET {moved} FROM flow_day d WHERE {family.match}")  # noqa: S608
    )
    cleared = ", ".join(f"{t} = flow_shift(t.{t}, {k}, -{held[t]})" for t in family.totals)
    counted = " OR ".join(f"{held[total]} <> 0" for total in family.totals)
    absent = f"NOT EXISTS (SELECT 1 FROM flow_day d WHERE {family.match})"  # noqa: S608
    await connection.execute(
        text(f"UPDATE {table} t SET {cleared} WHERE ({counted}) AND {absent}")  # noqa: S608
    )
    started = ", ".join(
        f"array_fill(0, ARRAY[{k - 1}]) || array_fill(d.{t}, ARRAY[{length - k + 1}])"
        for t in family.totals
    )
    await _insert_new_keys(connection, family, started)


async def _insert_new_keys(connection: AsyncConnection, family: Family, totals: str) -> None:
    """Rows for the keys of flow_day a series does not have yet, their totals as given."""
    table = family.table
    keys = ", ".join(("band", *family.keys))
    values = ", ".join(f"d.{column}" for column in ("band", *family.keys))
    await connection.execute(
        text(
            f"INSERT INTO {table} ({keys}, {', '.join(family.totals)})"  # noqa: S608
            f" SELECT {values}, {totals} FROM flow_day d WHERE NOT EXISTS"
            f" (SELECT 1 FROM {table} t WHERE {family.match})"
        )
    )


async def busiest(
    session: ReadSession,
    family: Family,
    band: str,
    first: date,
    last: date,
    limit: int | None,
) -> list[tuple[Any, ...]]:
    """The keys with the most over days first..last (within the series' span), busiest first:
    (*keys, *sums); [] when the range holds no day of the series.

    With a limit, only the keys busiest over every day are read (migration 0015): a key's sum
    over the range is at most its grand total, so once the limit-th sum found reaches the
    grand total of the keys left unread, none of them can enter the answer. Otherwise the
    bound is lowered, four times more keys each round, until it holds or every key is read.
    Keys read whose grand total equals the bound are all read, so a key left out sums less
    than the bound and cannot even tie."""
    covered = await span(session)
    if covered is None:
        return []
    a = max(covered.element(first), 1)
    b = min(covered.element(last), covered.length)
    if a > b:
        return []
    model = family.model
    keys = [getattr(model, key) for key in family.keys]
    sums = [
        getattr(model, total)[b] - func.coalesce(getattr(model, total)[a - 1], 0)
        for total in family.totals
    ]
    everything = sums[0] if len(sums) == 1 else sums[0] + sums[1]
    query = (
        select(*keys, *sums)
        .where(model.band == band, everything > 0)
        .order_by(everything.desc(), *keys)
        .limit(limit)
    )
    if limit is None:
        return [tuple(row) for row in (await session.execute(query)).all()]
    grand = family.grand_total
    read = 4 * limit
    while True:
        # The grand total of the read-th busiest key: None when fewer keys exist (read all).
        floor = (
            await session.execute(
                select(grand)
                .where(model.band == band)
                .order_by(grand.desc())
                .offset(read - 1)
                .limit(1)
            )
        ).scalar()
        bounded = query if floor is None else query.where(grand >= floor)
        rows = [tuple(row) for row in (await session.execute(bounded)).all()]
        if floor is None or (len(rows) == limit and sum(rows[-1][len(keys) :]) >= floor):
            return rows
        read *= 4
