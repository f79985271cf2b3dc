"""The live dashboard (GET /api/v1/analytics/live) after real taps through the API."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.analytics.pinned_day import BOGOTA, local_midnight, pinned_instant, running_from
from tests.conftest import (
    WATCHING,
    Network,
    ServerUrls,
    caller_headers,
    client_for,
    make_settings,
    start_app,
)
from tests.money import new_card, recharge, tap
from travel_recharge.analytics.folder import fold_deltas
from travel_recharge.analytics.live import service as live
from travel_recharge.kit.config import Settings
from travel_recharge.security.roles import Role

LIVE = "/api/v1/analytics/live"
MINUTE = timedelta(minutes=1)


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


async def dashboard_at(app: FastAPI, now: datetime) -> Any:
    """The dashboard as of `now`, as the route serves it (the route computes the same model
    as of its app's clock and serves its JSON)."""
    settings = app.state.settings
    async with app.state.database.read_sessions() as session:
        answer = await live.dashboard(
            session,
            app.state.cache,
            now,
            settings.timezone,
            settings.cache_ttl_live_active_cards_s,
        )
    return json.loads(answer.model_dump_json())


async def funded_cards(client: httpx.AsyncClient, count: int) -> list[int]:
    cards = [await new_card(client) for _ in range(count)]
    for card in cards:
        assert (await recharge(client, card, 20_000)).status_code == 201
    return cards


async def tapped(client: httpx.AsyncClient, card: int, at: datetime, **where: Any) -> Any:
    response = await tap(client, card, at=at, **where)
    assert response.status_code == 201, response.text
    return response.json()


async def dashboard(client: httpx.AsyncClient) -> Any:
    response = await client.get(LIVE)
    assert response.status_code == 200, response.text
    return response.json()


def minute_counts(answer: Any) -> dict[datetime, int]:
    return {parse(row["minute"]): row["taps"] for row in answer["taps_per_minute"]}


async def test_live_figures_after_real_taps(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    now = pinned_instant()
    a, b, c = await funded_cards(client, 3)
    start = minute_of(now) - 3 * MINUTE
    at_portal = await tapped(client, a, start + timedelta(seconds=5), station_id=1)
    at_calle_72 = await tapped(client, b, start + timedelta(seconds=40), station_id=2)
    # Buses: an on-board validator (route only) and a zonal stop; neither is a trunk station.
    on_bus = await tapped(client, a, start + 2 * MINUTE + timedelta(seconds=10), route_code="C17")
    at_stop = await tapped(client, c, start + 2 * MINUTE + timedelta(seconds=20), station_id=3)
    taps = [at_portal, at_calle_72, on_bus, at_stop]
    assert await fold_deltas(app.state.database) == 4

    answer = await dashboard_at(app, now)
    generated = parse(answer["generated_at"])
    assert generated == now
    assert answer["timezone"] == "America/Bogota"
    assert answer["local_date"] == generated.astimezone(BOGOTA).date().isoformat()
    assert answer["today"] == {
        "trips": 4,
        "revenue": sum(t["fare_charged"] for t in taps),
        "transfers": sum(t["is_transfer"] for t in taps),
        "credit_trips": sum(t["credit_used"] for t in taps),
    }
    assert answer["today"]["revenue"] > 0
    assert answer["active_cards_today"] == 3  # a tapped twice
    assert answer["revenue_by_locality_today"] == [
        {"code": "02", "name": "Chapinero", "revenue": at_calle_72["fare_charged"], "trips": 1},
        {"code": "11", "name": "Suba", "revenue": at_portal["fare_charged"], "trips": 1},
    ]
    assert answer["revenue_outside_stations_today"] == {
        "revenue": on_bus["fare_charged"] + at_stop["fare_charged"],
        "trips": 2,
    }
    hours: dict[int, int] = {}
    for t in taps:
        hour = parse(t["event_time"]).astimezone(BOGOTA).hour
        hours[hour] = hours.get(hour, 0) + 1
    assert answer["trips_by_hour_today"] == [
        {"hour": hour, "trips": hours.get(hour, 0)} for hour in range(24)
    ]
    minutes = minute_counts(answer)
    assert {m: n for m, n in minutes.items() if n} == {start: 2, start + 2 * MINUTE: 2}
    assert answer["taps_last_minute"] == minutes[minute_of(generated) - MINUTE] == 2


async def test_minutes_are_whole_utc_minutes_oldest_first_zero_filled(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    now = pinned_instant()
    cards = await funded_cards(client, 5)
    current = minute_of(now)
    edge = current - 5 * MINUTE
    await tapped(client, cards[0], edge, station_id=1)  # the first instant of a minute
    await tapped(client, cards[1], edge + timedelta(seconds=59.999), station_id=1)  # its last
    await tapped(client, cards[2], edge + MINUTE, station_id=1)  # the next minute's first
    await tapped(client, cards[3], current - 60 * MINUTE, station_id=2)  # the oldest minute
    await tapped(client, cards[4], current - 61 * MINUTE, station_id=2)  # out of the window
    await fold_deltas(app.state.database)

    answer = await dashboard_at(app, now)
    rows = answer["taps_per_minute"]
    minutes = [parse(row["minute"]) for row in rows]
    assert len(rows) == 61
    assert minutes[-1] == minute_of(parse(answer["generated_at"])) == current
    assert all(later - earlier == MINUTE for earlier, later in itertools.pairwise(minutes))
    assert all(m.utcoffset() == timedelta(0) for m in minutes)
    counts = dict(zip(minutes, (row["taps"] for row in rows), strict=True))
    assert minutes[0] == current - 60 * MINUTE
    assert {m: n for m, n in counts.items() if n} == {
        current - 60 * MINUTE: 1,  # the oldest minute is in; the one before it is not
        edge: 2,
        edge + MINUTE: 1,
    }
    assert sum(counts.values()) == 4
    assert answer["today"]["trips"] == 5


@pytest.mark.usefixtures("network")
async def test_an_empty_day_is_all_zeros_but_every_row_is_there(client: httpx.AsyncClient) -> None:
    answer = await dashboard(client)
    assert answer["today"] == {"trips": 0, "revenue": 0, "transfers": 0, "credit_trips": 0}
    assert answer["active_cards_today"] == 0
    assert answer["taps_last_minute"] == 0
    assert len(answer["taps_per_minute"]) == 61
    assert {row["taps"] for row in answer["taps_per_minute"]} == {0}
    assert answer["trips_by_hour_today"] == [{"hour": h, "trips": 0} for h in range(24)]
    # Every locality of the table (the fixture's network has two), zero-filled.
    assert answer["revenue_by_locality_today"] == [
        {"code": "02", "name": "Chapinero", "revenue": 0, "trips": 0},
        {"code": "11", "name": "Suba", "revenue": 0, "trips": 0},
    ]
    assert answer["revenue_outside_stations_today"] == {"revenue": 0, "trips": 0}
    assert answer["currency"] == "COP"


async def test_active_cards_counts_each_card_once(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    now = pinned_instant()
    a, b = await funded_cards(client, 2)
    for k, station in enumerate((1, 2, 1, 2)):
        await tapped(client, a, now - timedelta(minutes=8 - 2 * k), station_id=station)
    await tapped(client, b, now - timedelta(minutes=1), station_id=1)
    await fold_deltas(app.state.database)
    answer = await dashboard_at(app, now)
    assert answer["today"]["trips"] == 5
    assert answer["active_cards_today"] == 2


async def test_local_midnight_separates_the_days(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, network: Network
) -> None:
    # The route is asked at noon of the day that starts at `midnight` (yesterday's).
    midnight = local_midnight(pinned_instant())
    late, early = await funded_cards(client, 2)
    yesterday = await tapped(client, late, midnight - MINUTE, station_id=1)  # 23:59 the day before
    today = await tapped(client, early, midnight, station_id=2)  # 00:00 the day
    assert parse(yesterday["event_time"]).astimezone(BOGOTA).hour == 23
    await fold_deltas(app.state.database)

    async for _, noon_client in start_app(settings, running_from(midnight + timedelta(hours=12))):
        answer = await dashboard(noon_client)
    assert answer["local_date"] == midnight.date().isoformat()
    assert answer["today"]["trips"] == 1
    assert answer["today"]["revenue"] == today["fare_charged"]
    assert answer["active_cards_today"] == 1
    assert answer["trips_by_hour_today"][0] == {"hour": 0, "trips": 1}
    assert answer["trips_by_hour_today"][23] == {"hour": 23, "trips": 0}
    by_code = {row["code"]: row for row in answer["revenue_by_locality_today"]}
    assert (by_code["02"]["trips"], by_code["11"]["trips"]) == (1, 0)

    # Seen from 23:59:30 the day before, only the 23:59 tap is "today".
    async with app.state.database.read_sessions() as session:
        before = await live.dashboard(
            session,
            app.state.cache,
            midnight - timedelta(seconds=30),
            "America/Bogota",
            app.state.settings.cache_ttl_live_active_cards_s,
        )
    assert before.local_date == (midnight - MINUTE).date()
    assert before.today.trips == 1
    assert before.today.revenue == yesterday["fare_charged"]
    assert before.active_cards_today == 1
    assert before.trips_by_hour_today[23].trips == 1
    # 23:59 is the current (partial) minute then; the 00:00 tap is not yet in the window.
    assert before.taps_per_minute[-1].minute == midnight - MINUTE
    assert before.taps_per_minute[-1].taps == 1
    assert sum(row.taps for row in before.taps_per_minute) == 1
    assert before.taps_last_minute == 0


def test_the_clock_cuts_the_local_day_and_the_minutes() -> None:
    # 04:59:30 UTC is 23:59:30 in Bogotá (UTC-5, no daylight saving).
    clock = live.LiveClock.at(datetime(2026, 11, 25, 4, 59, 30, 123, tzinfo=UTC), "America/Bogota")
    assert clock.local_date == date(2026, 11, 24)
    assert clock.day_start == datetime(2026, 11, 24, 5, tzinfo=UTC)
    assert clock.day_end == datetime(2026, 11, 25, 5, tzinfo=UTC)
    assert len(clock.minutes) == 61
    assert clock.minutes[-1] == datetime(2026, 11, 25, 4, 59, tzinfo=UTC)
    assert clock.minutes[0] == datetime(2026, 11, 25, 3, 59, tzinfo=UTC)
    # A day with a daylight saving change is cut at its real midnights (23 hours long here).
    spring = live.LiveClock.at(datetime(2026, 3, 8, 12, tzinfo=UTC), "America/New_York")
    assert spring.day_end - spring.day_start == timedelta(hours=23)


async def test_a_second_call_within_the_ttl_serves_the_cached_answer(
    app: FastAPI, test_servers: ServerUrls, network: Network, client: httpx.AsyncClient
) -> None:
    assert app.state.settings.cache_ttl_live_s == 5  # the default
    # A TTL no slowness of the machine can outlast: the second call is within it for sure.
    settings = make_settings(test_servers, cache_ttl_live_s=600)
    clock = running_from(pinned_instant())
    now = clock()
    a, b = await funded_cards(client, 2)
    async for long_app, long_client in start_app(settings, clock):
        await tapped(long_client, a, now, station_id=1)
        await fold_deltas(long_app.state.database)
        first = await long_client.get(LIVE)
        assert first.json()["today"]["trips"] == 1
        await tapped(long_client, b, now, station_id=2)
        await fold_deltas(long_app.state.database)
        second = await long_client.get(LIVE)
        # The same answer, byte for byte (its generated_at too: it was computed once), though
        # a computation now would count b's trip.
        assert second.content == first.content
        assert (await dashboard_at(long_app, clock()))["today"]["trips"] == 2


async def test_after_the_ttl_the_figures_are_fresh_but_active_cards_wait_longer(
    test_servers: ServerUrls, network: Network, client: httpx.AsyncClient
) -> None:
    # The active cards are cached per local day: the scenario (seconds, or the polls' 30 s
    # deadline) runs in the evening of a pinned day, far from a new day's start.
    clock = running_from(pinned_instant())
    now = clock()
    a, b = await funded_cards(client, 2)
    settings = make_settings(test_servers, cache_ttl_live_s=1)
    async for short_app, short_client in start_app(settings, clock):
        await tapped(short_client, a, now, station_id=1)
        await fold_deltas(short_app.state.database)
        first = await dashboard(short_client)
        await tapped(short_client, b, now, station_id=2)
        await fold_deltas(short_app.state.database)
        # Poll (generous deadline) until the 1 s answer has expired and been recomputed.
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while (second := await dashboard(short_client))["generated_at"] == first["generated_at"]:
            assert datetime.now(UTC) < deadline, "the live answer never expired"
            await asyncio.sleep(0.1)
    assert (first["today"]["trips"], second["today"]["trips"]) == (1, 2)
    assert parse(second["generated_at"]) > parse(first["generated_at"])
    # The distinct cards are cached for cache_ttl_live_active_cards_s (60 s): not yet b.
    assert first["active_cards_today"] == second["active_cards_today"] == 1
    assert first["active_cards_as_of"] == second["active_cards_as_of"]


@pytest.mark.usefixtures("network")
@pytest.mark.parametrize(("role", "status"), WATCHING)
async def test_analysts_and_operators_may_watch(
    app: FastAPI, role: Role | None, status: int
) -> None:
    headers = caller_headers(app, role)
    async with client_for(app, headers) as caller:
        response = await caller.get(LIVE)
    assert response.status_code == status, response.text
    if status == 200:
        assert len(response.json()["taps_per_minute"]) == 61
