"""Analytics figures from the rollups, checked against a hand-computed scenario."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, ServerUrls, make_settings, start_app
from tests.money import new_card, recharge, tap
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.kit.scratch import libpq_url

BOGOTA = ZoneInfo("America/Bogota")
FARE = 3550
RANGE = "date_from=2026-11-10&date_to=2026-11-11"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BOGOTA)


@pytest.fixture
async def scenario(
    app: FastAPI, client: httpx.AsyncClient, network: Network, wide_offline_window: None
) -> dict[str, int]:
    """Five taps on three cards over two days, and one trip end (see each assertion); the
    days are fixed dates, older than the offline window, which is widened for them."""
    async with app.state.database.primary.begin() as connection:
        # Route 18-3 starts at the zonal stop in Chapinero (02).
        await connection.exec_driver_sql(
            "INSERT INTO route_stops (route_id, sequence, station_id, minutes_from_start)"
            " VALUES (2, 1, 3, 0)"
        )
    a = await new_card(client, "personalized")
    b = await new_card(client, "basic")
    c = await new_card(client, "personalized")
    await recharge(client, a, 20000)
    await recharge(client, b, 10000)
    assert (await tap(client, a, route_code="18-3", at=local(10, 7, 15))).json()[
        "fare_charged"
    ] == FARE
    assert (await tap(client, a, station_id=network.trunk_station, at=local(10, 7, 45))).json()[
        "is_transfer"
    ]
    b_trip = (
        await tap(client, b, station_id=network.other_trunk_station, at=local(10, 17, 30))
    ).json()
    await tap(client, b, station_id=network.other_trunk_station, at=local(11, 8, 5))
    assert (await tap(client, c, station_id=network.trunk_station, at=local(11, 9))).json()[
        "credit_used"
    ]
    ended = await client.post(
        "/api/v1/trips/end",
        json={"trip_id": b_trip["trip_id"], "station_id": network.trunk_station},
    )
    assert ended.status_code == 200
    assert await fold_deltas(app.state.database) == 6  # five taps and one trip end
    return {"a": a, "b": b, "c": c}


@pytest.mark.usefixtures("scenario")
async def test_seed_totals_and_localities(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/trips/total")).json() == {
        "total_trips": 5,
        "completed_trips": 1,
        "active_trips": 4,
        "total_revenue": 4 * FARE,
    }
    localities = {
        row["locality_code"]: row
        for row in (await client.get("/api/v1/trips/total/localities")).json()["localities"]
    }
    assert localities["02"] == {
        "locality": "Chapinero",
        "locality_code": "02",
        "total_trips": 3,
        "completed_trips": 1,
        "active_trips": 2,
        "total_revenue": 3 * FARE,
    }
    assert (localities["11"]["total_trips"], localities["11"]["total_revenue"]) == (2, FARE)
    assert (await client.get("/api/v1/finance/revenue")).json() == {
        "total_revenue": 4 * FARE,
        "currency": "COP",
    }
    revenue = (await client.get("/api/v1/finance/revenue/localities")).json()
    assert revenue["currency"] == "COP"
    assert {r["locality_code"]: r["total_revenue"] for r in revenue["data"]} == {
        "02": 3 * FARE,
        "11": FARE,
    }


@pytest.mark.usefixtures("scenario")
async def test_date_range_analytics(client: httpx.AsyncClient) -> None:
    hours = (await client.get(f"/api/v1/analytics/trips-by-hour?{RANGE}")).json()
    assert len(hours["hours"]) == 24
    assert {h["hour"]: h["trips"] for h in hours["hours"] if h["trips"]} == {
        7: 2,
        8: 1,
        9: 1,
        17: 1,
    }
    zonal = (await client.get(f"/api/v1/analytics/trips-by-hour?{RANGE}&service_kind=zonal")).json()
    assert {h["hour"]: h["trips"] for h in zonal["hours"] if h["trips"]} == {7: 1}
    one_day = (
        await client.get("/api/v1/analytics/trips-by-hour?date_from=2026-11-11&date_to=2026-11-11")
    ).json()
    assert sum(h["trips"] for h in one_day["hours"]) == 2

    days = (await client.get(f"/api/v1/analytics/revenue-by-day?{RANGE}")).json()["days"]
    assert days == [
        {"day": "2026-11-10", "trips": 3, "revenue": 2 * FARE},
        {"day": "2026-11-11", "trips": 2, "revenue": 2 * FARE},
    ]
    stations = (await client.get(f"/api/v1/analytics/top-stations?{RANGE}")).json()["stations"]
    assert [(s["code"], s["boardings"], s["revenue"]) for s in stations] == [
        ("01014", 2, 2 * FARE),
        ("02000", 2, FARE),
    ]
    shares = (await client.get(f"/api/v1/analytics/shares?{RANGE}")).json()
    by_kind = {row["service_kind"]: row for row in shares["by_service_kind"]}
    assert (
        by_kind["trunk"]["trips"],
        by_kind["trunk"]["transfers"],
        by_kind["trunk"]["credit_trips"],
    ) == (4, 1, 1)
    assert by_kind["trunk"]["transfer_share"] == 0.25
    assert (by_kind["zonal"]["trips"], by_kind["zonal"]["revenue"]) == (1, FARE)
    assert shares["overall"]["transfer_share"] == 0.2
    assert shares["overall"]["credit_share"] == 0.2
    assert shares["overall"]["revenue"] == 4 * FARE


@pytest.mark.usefixtures("scenario")
async def test_users_counts_and_latest(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/api/v1/users/count")).json() == {"total_users": 2}
    assert (await client.get("/api/v1/users/active/count")).json() == {"active_users_count": 2}
    latest = (await client.get("/api/v1/users/latest")).json()["latest_user"]
    assert latest["full_name"] == "Ana Rider"
    async with app.state.database.primary.connect() as connection:
        newest = (await connection.exec_driver_sql("SELECT max(id) FROM users")).scalar_one()
    assert latest["user_id"] == newest


@pytest.mark.usefixtures("scenario")
async def test_rebuild_gives_the_same_rollups_as_the_triggers(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    queries = [
        f"SELECT * FROM {table} ORDER BY 1, 2, 3"  # noqa: S608 (constant table names)
        for table in ("rollup_totals", "rollup_hours", "rollup_station_days", "rollup_users")
    ]

    async def snapshot() -> list[list[tuple[object, ...]]]:
        async with app.state.database.primary.connect() as connection:
            return [
                [tuple(r) for r in (await connection.exec_driver_sql(query)).all()]
                for query in queries
            ]

    by_triggers = await snapshot()
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql("SELECT rebuild_rollups()")
    assert await snapshot() == by_triggers


@pytest.mark.usefixtures("clean")
async def test_no_users_is_204_and_empty_totals(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/latest")).status_code == 204
    assert (await client.get("/api/v1/trips/total")).json()["total_trips"] == 0


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=2026-11-12&date_to=2026-11-11", "date_from"),
        ("date_from=2024-01-01&date_to=2026-11-11", "date_from"),
        ("date_from=yesterday", "date_from"),
        ("service_kind=metro", "service_kind"),
    ],
)
async def test_bad_ranges_are_422(client: httpx.AsyncClient, query: str, field: str) -> None:
    response = await client.get(f"/api/v1/analytics/trips-by-hour?{query}")
    assert response.status_code == 422
    assert response.json()["detail"].startswith(field)


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize("path", ["trips-by-hour", "revenue-by-day", "top-stations", "shares"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        # Pydantic's date would read a number as a Unix timestamp: 0 is 1970-01-01.
        ("date_to=0", "date_to"),
        ("date_from=1731283200", "date_from"),
        ("date_to=1731283200.5", "date_to"),
        ("date_from=2026-11-1", "date_from"),
        ("date_to=2026-11-11T00:00:00", "date_to"),
    ],
)
async def test_date_parameters_take_only_written_dates(
    client: httpx.AsyncClient, path: str, query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/analytics/{path}?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == [
        {"field": field, "problem": "Value error, must be a date written YYYY-MM-DD"}
    ]


async def test_the_document_states_the_date_spelling(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/analytics/shares"][
        "get"
    ]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    for name in ("date_from", "date_to"):
        assert schemas[name]["anyOf"][0] == {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        }


@pytest.mark.usefixtures("network")
async def test_concurrent_taps_of_many_cards_lose_no_count(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    cards = [await new_card(client) for _ in range(40)]
    for card in cards:
        await recharge(client, card, 5000)
    responses = await asyncio.gather(*(tap(client, card, station_id=1) for card in cards))
    assert {r.status_code for r in responses} == {201}
    await fold_deltas(app.state.database)
    totals = (await client.get("/api/v1/trips/total")).json()
    assert (totals["total_trips"], totals["total_revenue"]) == (40, 40 * FARE)


SHORT_TTL_S = 1


@pytest.fixture
async def short_ttl_app(
    test_servers: ServerUrls, network: Network
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(test_servers, cache_ttl_totals_s=SHORT_TTL_S, rollup_fold_interval_s=0)
    async for pair in start_app(settings):
        yield pair


async def total_trips(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/v1/trips/total")
    assert response.status_code == 200, response.text
    return int(response.json()["total_trips"])


async def test_a_cached_total_lags_behind_a_folded_tap_within_its_ttl(
    app: FastAPI, client: httpx.AsyncClient, test_servers: ServerUrls, network: Network
) -> None:
    # The default TTL (300 s) outlasts any slowness of the machine: the lag is certain.
    assert app.state.settings.cache_ttl_totals_s == 300
    card = await new_card(client)
    await recharge(client, card, 5000)
    assert await total_trips(client) == 0
    assert (await tap(client, card, station_id=1)).status_code == 201
    assert await fold_deltas(app.state.database) == 1
    # The rollups hold the trip, but the cached total (the documented bound) does not yet.
    assert await rollup_trips(test_servers) == 1
    assert await total_trips(client) == 0


async def test_totals_are_at_most_one_ttl_old(
    short_ttl_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = short_ttl_app
    card = await new_card(client)
    await recharge(client, card, 5000)
    cached_from = time.monotonic()  # the answer below is cached from here on
    assert await total_trips(client) == 0
    assert (await tap(client, card, station_id=1)).status_code == 201
    assert await fold_deltas(app.state.database) == 1
    # Once the cached answer expires the total is exact: poll for it with a generous deadline
    # (a loaded machine only makes this slower) ...
    deadline = cached_from + 30
    while (trips := await total_trips(client)) == 0:
        assert time.monotonic() < deadline, "the total never caught up with the tap"
        await asyncio.sleep(0.05)
    assert trips == 1
    # ... and not before: the folded trip stayed out of the answers until the TTL had passed
    # (a lower bound, which slowness cannot break).
    assert time.monotonic() - cached_from >= SHORT_TTL_S


async def rollup_trips(servers: ServerUrls) -> int:
    connection = await asyncpg.connect(libpq_url(servers.database_url))
    try:
        return int(await connection.fetchval("SELECT coalesce(sum(trips), 0) FROM rollup_totals"))
    finally:
        await connection.close()


async def test_the_background_folder_brings_taps_into_the_rollups(
    test_servers: ServerUrls, network: Network
) -> None:
    settings = make_settings(test_servers, rollup_fold_interval_s=0.1)
    async for _, client in start_app(settings):
        card = await new_card(client)
        await recharge(client, card, 5000)
        await tap(client, card, station_id=1)
        # The loop folds every 0.1 s; the deadline is generous for a loaded machine.
        deadline = time.monotonic() + 30
        while (trips := await rollup_trips(test_servers)) == 0:
            assert time.monotonic() < deadline, "the background folder never folded the tap"
            await asyncio.sleep(0.1)
        assert trips == 1


def test_the_scenario_times_are_bogota_local() -> None:
    assert local(10, 7, 15).astimezone(ZoneInfo("UTC")) == datetime(
        2026, 11, 10, 12, 15, tzinfo=ZoneInfo("UTC")
    )
    assert local(11, 9) - local(10, 7, 15) == timedelta(hours=25, minutes=45)
