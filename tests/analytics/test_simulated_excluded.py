"""Analytics leave the traffic simulator's riders and taps out, unless asked for.

A real rider and two of the simulator's cards tap (yesterday evening: the live dashboard is
asked through an app whose clock is pinned to that evening, tests/analytics/pinned_day.py,
so its "today" never depends on the hour the suite runs); every figure (totals, revenue,
localities, date ranges, stations, shares, rider counts, the live dashboard) counts the real
one only, and `include_simulated=true` adds the simulated ones, exactly. Rebuilding the
rollups from the rows keeps them apart too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.analytics.pinned_day import pinned_instant, running_from
from tests.conftest import Network, start_app
from tests.money import new_card, new_user, recharge, tap
from tests.simulator.conftest import Simulated, make_simulated
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.kit.config import Settings

MINUTE = timedelta(minutes=1)


@pytest.fixture
async def taps(app: FastAPI, client: httpx.AsyncClient, network: Network) -> dict[str, Any]:
    """One real tap and three simulated ones, in the minutes before the pinned instant,
    at the two trunk stations."""
    await new_user(client)  # a real rider registered before the simulator's
    real = await new_card(client)
    assert (await recharge(client, real, 10_000, point=network.counter)).status_code == 201
    simulated: Simulated = await make_simulated(app, riders=2)
    first = pinned_instant() - 5 * MINUTE
    fares = [
        (await tap(client, real, station_id=network.trunk_station, at=first)).json()[
            "fare_charged"
        ],
    ]
    sim_fares = [
        (await tap(client, card, station_id=station, at=first + n * MINUTE)).json()["fare_charged"]
        for n, (card, station) in enumerate(
            (
                (simulated.cards[0], network.trunk_station),
                (simulated.cards[0], network.other_trunk_station),
                (simulated.cards[1], network.other_trunk_station),
            ),
            start=1,
        )
    ]
    assert await fold_deltas(app.state.database) == 4
    return {"real": sum(fares), "simulated": sum(sim_fares), "riders": simulated.riders}


async def _figures(
    client: httpx.AsyncClient, evening: httpx.AsyncClient, include: bool
) -> dict[str, Any]:
    """Every figure through `client`; the live dashboard through `evening` (the app of the
    pinned clock)."""
    query = {"include_simulated": "true"} if include else {}

    async def get(path: str, through: httpx.AsyncClient = client) -> Any:
        response = await through.get(path, params=query)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    totals = await get("/api/v1/trips/total")
    localities = await get("/api/v1/trips/total/localities")
    revenue = await get("/api/v1/finance/revenue/localities")
    hours = await get("/api/v1/analytics/trips-by-hour")
    days = await get("/api/v1/analytics/revenue-by-day")
    stations = await get("/api/v1/analytics/top-stations")
    shares = await get("/api/v1/analytics/shares")
    live = await get("/api/v1/analytics/live", evening)
    return {
        "trips": totals["total_trips"],
        "revenue": totals["total_revenue"],
        "finance": (await get("/api/v1/finance/revenue"))["total_revenue"],
        "by_locality": {
            row["locality_code"]: row["total_trips"]
            for row in localities["localities"]
            if row["total_trips"]
        },
        "revenue_by_locality": sum(row["total_revenue"] for row in revenue["data"]),
        "by_hour": sum(hour["trips"] for hour in hours["hours"]),
        "by_day": [(day["trips"], day["revenue"]) for day in days["days"]],
        "stations": [(s["code"], s["boardings"]) for s in stations["stations"]],
        "shares": (shares["overall"]["trips"], shares["overall"]["revenue"]),
        "users": (await get("/api/v1/users/count"))["total_users"],
        "active_users": (await get("/api/v1/users/active/count"))["active_users_count"],
        "latest_user": (await get("/api/v1/users/latest"))["latest_user"]["user_id"],
        "live": (live["today"]["trips"], live["today"]["revenue"], live["active_cards_today"]),
        "live_minutes": sum(minute["taps"] for minute in live["taps_per_minute"]),
    }


async def test_every_figure_leaves_simulated_riders_out_unless_asked(
    client: httpx.AsyncClient, settings: Settings, taps: dict[str, Any]
) -> None:
    real, simulated = taps["real"], taps["simulated"]
    async for _, evening in start_app(settings, running_from(pinned_instant())):
        only_real = await _figures(client, evening, include=False)
        everything = await _figures(client, evening, include=True)
    assert only_real == {
        "trips": 1,
        "revenue": real,
        "finance": real,
        "by_locality": {"11": 1},  # Portal Norte
        "revenue_by_locality": real,
        "by_hour": 1,
        "by_day": [(1, real)],
        "stations": [("02000", 1)],
        "shares": (1, real),
        "users": 1,
        "active_users": 1,
        "latest_user": only_real["latest_user"],
        "live": (1, real, 1),
        "live_minutes": 1,
    }
    assert only_real["latest_user"] not in taps["riders"]
    assert everything == {
        "trips": 4,
        "revenue": real + simulated,
        "finance": real + simulated,
        "by_locality": {"11": 2, "02": 2},
        "revenue_by_locality": real + simulated,
        "by_hour": 4,
        "by_day": [(4, real + simulated)],
        "stations": [("01014", 2), ("02000", 2)],
        "shares": (4, real + simulated),
        "users": 1 + len(taps["riders"]),
        "active_users": 1 + len(taps["riders"]),
        "latest_user": everything["latest_user"],
        "live": (4, real + simulated, 3),
        "live_minutes": 4,
    }
    assert everything["latest_user"] in taps["riders"]


async def test_a_rebuild_of_the_rollups_keeps_simulated_rows_apart(
    app: FastAPI, client: httpx.AsyncClient, taps: dict[str, Any]
) -> None:
    async def rollups() -> list[tuple[Any, ...]]:
        async with app.state.database.primary.connect() as connection:
            rows = await connection.exec_driver_sql(
                "SELECT 'totals', locality_code, simulated, trips, revenue FROM rollup_totals"
                " UNION ALL SELECT 'hours', hour::text, simulated, trips, revenue"
                " FROM rollup_hours"
                " UNION ALL SELECT 'stations', station_id::text, simulated, trips, revenue"
                " FROM rollup_station_days"
                " UNION ALL SELECT 'users', 'all', false, total_users, active_users"
                " FROM rollup_users"
                " UNION ALL SELECT 'users', 'all', true, simulated_users, simulated_active_users"
                " FROM rollup_users ORDER BY 1, 2, 3"
            )
            return [tuple(row) for row in rows]

    folded = await rollups()
    assert [row[1:3] for row in folded if row[0] == "totals"] == [
        ("02", True),
        ("11", False),
        ("11", True),
    ]
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql("SELECT rebuild_rollups()")
    assert await rollups() == folded
