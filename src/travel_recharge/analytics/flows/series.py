"""Cumulative series: the flows with many keys a day, summed over any range of days in two
array elements per key.

Each key (a station pair, a pair of lines, a transfer place) has a row per band whose arrays
hold running totals: element k is the sum of days first_day .. first_day + k - 1. Every row
covers the same days, so the total of days a..b is totals[b] - totals[a - 1] (migration 0013).

A new day extends every row by the days since the last (gap days repeat the last total) and
adds its counts; a recounted day (a late tap) moves every later total of the keys whose count
changed by the difference (flow_shift, a SQL function). Keys seen for the first time get a row
of zeros up to that day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import (
    FlowSeriesState,
    StationFlowSeries,
    TransferLineSeries,
    TransferPlaceSeries,
)

# Identifiers spliced into the SQL below come only from these constants, never from a request.


@dataclass(frozen=True, slots=True)
class Family:
    model: type[Any]
    keys: tuple[str, ...]
    key_types: tuple[str, ...]
    totals: tuple[str, ...]

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def match(self) -> str:
        return " AND ".join(f"t.{column} = d.{column}" for column in ("band", *self.keys))


STATIONS = Family(
    StationFlowSeries,
    ("origin_id", "destination_id"),
    ("integer", "integer"),
    ("observed", "inferred"),
)
LINES = Family(
    TransferLineSeries,
    ("from_kind", "from_line", "to_kind", "to_line"),
    ("text", "text", "text", "text"),
    ("transfers",),
)
PLACES = Family(TransferPlaceSeries, ("station_id",), ("integer",), ("transfers",))
FAMILIES = (STATIONS, LINES, PLACES)


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


async def extend(connection: AsyncConnection, day: date) -> Span:
    """Make the series reach `day` (the first day starts them); returns their new span."""
    before = await span(connection)
    if before is None:
        await connection.execute(
            text("INSERT INTO flow_series_state (id, first_day, last_day) VALUES (1, :d, :d)"),
            {"d": day},
        )
        return Span(day, day)
    if day <= before.last:
        return before
    added, last = (day - before.last).days, before.length
    for family in FAMILIES:
        repeated = ", ".join(
            f"{total} = {total} || array_fill({total}[{last}], ARRAY[{added}])"
            for total in family.totals
        )
        await connection.execute(text(f"UPDATE {family.table} SET {repeated}"))  # noqa: S608
    await connection.execute(
        text("UPDATE flow_series_state SET last_day = :d WHERE id = 1"), {"d": day}
    )
    return Span(before.first, day)


async def put_day(
    connection: AsyncConnection,
    family: Family,
    covered: Span,
    day: date,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Set the day's counts of a family (band, *keys, *counts per row); keys absent from
    `rows` count 0 that day. The series must already reach the day (extend)."""
    k, length = covered.element(day), covered.length
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
    # Each total moves by the day's new count minus the one it holds for the day.
    held = {t: f"(t.{t}[{k}] - coalesce(t.{t}[{k - 1}], 0))" for t in family.totals}
    moved = ", ".join(f"{t} = flow_shift(t.{t}, {k}, d.{t} - {held[t]})" for t in family.totals)
    table = family.table
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
        f"array_fill(0, ARRAY[{k - 1}]) || array_fill(d.{total}, ARRAY[{length - k + 1}])"
        for total in family.totals
    )
    keys = ", ".join(("band", *family.keys))
    values = ", ".join(f"d.{column}" for column in ("band", *family.keys))
    await connection.execute(
        text(
            f"INSERT INTO {table} ({keys}, {', '.join(family.totals)})"  # noqa: S608
            f" SELECT {values}, {started} FROM flow_day d WHERE NOT EXISTS"
            f" (SELECT 1 FROM {table} t WHERE {family.match})"
        )
    )


async def busiest(
    session: ReadSession,
    family: Family,
    band: str,
    first: date,
    last: date,
    limit: int,
) -> list[tuple[Any, ...]]:
    """The keys with the most over days first..last (within the series' span), busiest first:
    (*keys, *sums); [] when the range holds no day of the series."""
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
    return [tuple(row) for row in (await session.execute(query)).all()]
