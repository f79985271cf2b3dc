"""Rider behaviour on eight weeks of generated riders counted by the daily job, checked
against figures recounted from the trips, recharges and cards themselves."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.analytics.conftest import Generated
from tests.conftest import (
    ServerUrls,
    make_settings,
    start_app,
    watched_answer,
)
from travel_recharge.analytics.riders import repository as rider_figures
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import create_engine

RIDERS = "/api/v1/analytics/riders"
BOGOTA = ZoneInfo("America/Bogota")

# Real riders' trips with their local day.
_TRIPS = """
    WITH t AS (
        SELECT t.*, c.card_type, c.profile,
            (t.event_time AT TIME ZONE 'America/Bogota')::date AS day
        FROM trips t JOIN cards c ON c.id = t.card_id WHERE NOT c.simulated
    )
"""


def over_trips(select: str) -> str:
    return _TRIPS + select


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def recounted_dormant(database_url: str, day: date, days: int) -> int:
    """Active real cards issued before the `days` ending on `day` with no trip in them."""
    [found] = await fetch(
        database_url,
        "SELECT count(*) FROM cards c WHERE c.status = 'active' AND NOT c.simulated"
        " AND c.created_at < ($1::date + 1)::timestamp AT TIME ZONE 'America/Bogota'"
        " - make_interval(days => $2) AND NOT EXISTS (SELECT 1 FROM trips t"
        " WHERE t.card_id = c.id AND (t.event_time AT TIME ZONE 'America/Bogota')::date"
        " BETWEEN $1::date - $2 + 1 AND $1)",
        day,
        days,
    )
    return int(found[0])


def engine_of(settings: Settings) -> AsyncEngine:
    assert settings.database_url
    return create_engine(settings.database_url, settings, pool_size=1, max_overflow=0)


async def test_the_figures_equal_a_recount_from_the_rows(
    counted: Settings, generated: Generated
) -> None:
    url, yesterday = generated.database_url, generated.today - timedelta(days=1)
    async for app, _ in start_app(counted):
        answer = await watched_answer(app, RIDERS)
    assert answer["day"] == yesterday.isoformat()
    first = yesterday - timedelta(days=27)

    [day] = await fetch(
        url, over_trips("SELECT count(DISTINCT card_id), count(*) FROM t WHERE day = $1"), yesterday
    )
    assert (answer["active_cards_day"], answer["trips_day"]) == (day[0], day[1])
    assert answer["trips_per_active_card"] == round(day[1] / day[0], 2)
    [week] = await fetch(
        url,
        over_trips("SELECT count(DISTINCT card_id) FROM t WHERE day BETWEEN $1 AND $2"),
        yesterday - timedelta(days=6),
        yesterday,
    )
    assert answer["active_cards_week"] == week[0]
    daily = await fetch(
        url,
        over_trips(
            "SELECT day, count(DISTINCT card_id) AS cards, count(*) AS trips FROM t"
            " WHERE day BETWEEN $1 AND $2 GROUP BY day ORDER BY day"
        ),
        first,
        yesterday,
    )
    assert answer["daily"] == [
        {"day": r["day"].isoformat(), "active_cards": r["cards"], "trips": r["trips"]}
        for r in daily
    ]

    # Segments: every card of the window in one; recounted by the same rules.
    segments = await fetch(
        url,
        over_trips(
            "SELECT CASE WHEN card_type = 'basic' THEN 'basic'"
            " WHEN profile IS NOT NULL THEN profile"
            " WHEN count(DISTINCT day) FILTER (WHERE extract(isodow FROM day) < 6) >= 12"
            " THEN 'regular_commuter' ELSE 'occasional' END AS segment,"
            " count(*) AS trips, count(*) FILTER (WHERE is_transfer) AS transfers,"
            " count(*) FILTER (WHERE credit_used) AS credit, count(DISTINCT day) AS days"
            " FROM t WHERE day BETWEEN $1 AND $2 GROUP BY card_id, card_type, profile"
        ),
        first,
        yesterday,
    )
    expected: dict[str, list[int]] = {}
    for row in segments:
        totals = expected.setdefault(row["segment"], [0, 0, 0, 0, 0])
        for i, value in enumerate((1, row["days"], row["trips"], row["transfers"], row["credit"])):
            totals[i] += value
    by_name = {s["segment"]: s for s in answer["segments"]}
    assert set(by_name) == set(expected)
    assert {"basic", "regular_commuter", "occasional"} <= set(by_name)
    for name, (cards, days, trips, transfers, credit) in expected.items():
        found = by_name[name]
        assert (found["cards"], found["active_days"], found["trips"]) == (cards, days, trips)
        assert found["transfer_share"] == round(transfers / trips, 4)
        assert found["credit_share"] == round(credit / trips, 4)
    assert answer["active_cards_window"] == sum(s[0] for s in expected.values())


async def test_recharge_habits_and_dormant_cards_equal_a_recount(
    counted: Settings, generated: Generated
) -> None:
    url, yesterday = generated.database_url, generated.today - timedelta(days=1)
    async for _, client in start_app(counted):
        answer = (await client.get(RIDERS, params={"day": yesterday.isoformat()})).json()
    first = yesterday - timedelta(days=27)
    [totals] = await fetch(
        url,
        "WITH r AS (SELECT r.*, (SELECT max(q.created_at) FROM recharges q"
        " WHERE q.card_id = r.card_id AND q.created_at < r.created_at) AS before"
        " FROM recharges r JOIN cards c ON c.id = r.card_id WHERE NOT c.simulated"
        " AND (r.created_at AT TIME ZONE 'America/Bogota')::date BETWEEN $1 AND $2)"
        " SELECT count(*), sum(amount), count(*) FILTER (WHERE before IS NULL),"
        " count(*) FILTER (WHERE amount >= 100000) FROM r",
        first,
        yesterday,
    )
    habits = answer["recharges"]
    assert totals[0] > 0
    assert (habits["recharges"], habits["amount"]) == (totals[0], totals[1])
    assert habits["days_between"][0] == {"label": "first", "count": totals[2]}
    assert sum(b["count"] for b in habits["days_between"]) == totals[0]
    assert sum(b["count"] for b in habits["amounts"]) == totals[0]
    assert habits["amounts"][-1] == {"label": ">= 100,000", "count": totals[3]}
    assert habits["median_amount"] in (10_000, 20_000, 30_000, 50_000, 100_000)

    assert answer["dormant_cards"] == await recounted_dormant(url, yesterday, 30)
    issued = await fetch(
        url,
        "SELECT count(*) FROM cards WHERE status = 'active' AND NOT simulated"
        " AND created_at < ($1::date + 1)::timestamp AT TIME ZONE 'America/Bogota'"
        " - interval '30 days'",
        yesterday,
    )
    assert answer["dormant_share"] == round(answer["dormant_cards"] / issued[0][0], 4)
    # These riders all rode within 30 days; over the last day alone many did not, and the
    # job's query finds exactly those (it can tell a silent card from a riding one).
    engine = engine_of(counted)
    try:
        async with engine.connect() as connection:
            end = datetime.combine(yesterday + timedelta(days=1), time(), BOGOTA)
            _, silent = await rider_figures.dormant(connection, end - timedelta(days=1), end)
    finally:
        await engine.dispose()
    assert silent == await recounted_dormant(url, yesterday, 1) > 0


async def test_days_without_figures_are_refused(counted: Settings, generated: Generated) -> None:
    async for _, client in start_app(counted):
        today = await client.get(RIDERS, params={"day": generated.today.isoformat()})
        before = await client.get(RIDERS, params={"day": "2001-01-01"})
        earlier = await client.get(
            RIDERS, params={"day": (generated.today - timedelta(days=30)).isoformat()}
        )
    assert today.status_code == 422, today.text
    assert "day" in today.text
    assert before.status_code == 404, before.text
    assert earlier.status_code == 200, earlier.text
    assert earlier.json()["day"] == (generated.today - timedelta(days=30)).isoformat()


async def test_before_any_day_is_counted_the_answer_says_so(test_servers: ServerUrls) -> None:
    async for _, client in start_app(make_settings(test_servers)):
        response = await client.get(RIDERS)
    assert response.status_code == 503, response.text
    assert "travel-recharge flows" in response.text
