"""The busiest keys of a cumulative series, read down its index of grand totals, against the
same figure summed by hand: the ranges where the busiest overall are not the busiest."""

from __future__ import annotations

import random
from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.analytics.flows import series
from travel_recharge.models.flows import WHOLE_DAY

FIRST = date(2026, 3, 2)
STOPS = 400


def counts_by_day() -> list[dict[int, int]]:
    """Day 1: stop k has 10 k transfers (the grand totals' order). Day 2: only stops 1-3, the
    quietest overall, have any. Days 3-4: random counts, with ties."""
    chance = random.Random(7)
    return [
        {stop: 10 * stop for stop in range(1, STOPS + 1)},
        {1: 500, 2: 400, 3: 300},
        {stop: chance.randrange(0, 30) for stop in range(1, STOPS + 1)},
        {stop: chance.choice((0, 0, 5, 40)) for stop in range(1, STOPS + 1)},
    ]


def by_hand(days: list[dict[int, int]], a: int, b: int, limit: int) -> list[tuple[int, int]]:
    totals: dict[int, int] = {}
    for counts in days[a : b + 1]:
        for stop, n in counts.items():
            totals[stop] = totals.get(stop, 0) + n
    ranked = sorted((item for item in totals.items() if item[1] > 0), key=lambda i: (-i[1], i[0]))
    return ranked[:limit]


async def test_the_busiest_of_any_range_equal_the_ones_summed_by_hand(app: FastAPI) -> None:
    days = counts_by_day()
    async with app.state.database.primary.connect() as connection:
        transaction = await connection.begin()
        try:
            await series.reset(connection)
            for offset, counts in enumerate(days):
                rows = [(WHOLE_DAY, stop, n) for stop, n in counts.items() if n]
                await series.store_day(
                    connection, FIRST + timedelta(days=offset), {series.PLACES: rows}
                )
            session = AsyncSession(bind=connection)
            # Day 2 alone: its three stops rank near the bottom by grand total, so the first
            # 12 keys read hold none of them and the bound is lowered until it holds.
            second = FIRST + timedelta(days=1)
            found = await series.busiest(session, series.PLACES, WHOLE_DAY, second, second, 3)
            assert found == [(1, 500), (2, 400), (3, 300)]
            for a in range(len(days)):
                for b in range(a, len(days)):
                    first, last = FIRST + timedelta(days=a), FIRST + timedelta(days=b)
                    for limit in (1, 5, 20):
                        found = await series.busiest(
                            session, series.PLACES, WHOLE_DAY, first, last, limit
                        )
                        assert found == by_hand(days, a, b, limit), (a, b, limit)
        finally:
            await transaction.rollback()
