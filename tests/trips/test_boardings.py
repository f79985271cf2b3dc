"""Which boardings are transfers when a tap names only a station or only a route, a free
feeder ride before a paid boarding, a tap_id reused later by another card, and answers in UTC
whatever the server's own time zone.

Expected values from the rules (../shared/DOMAIN.md, the 2026 policy: 3,550 a fare, feeders
free, 125 minutes, 2 transfers): boarding the same route again or tapping again at the same
stop is not a transfer; any other boarding inside the window is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows
from tests.money import balance, new_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550


async def personalized_card(client: httpx.AsyncClient, amount: int) -> int:
    card_id = await new_card(client, "personalized")
    assert (await recharge(client, card_id, amount)).status_code == 201
    return card_id


def priced(response: httpx.Response) -> tuple[int, str, int]:
    assert response.status_code == 201, response.text
    body = response.json()
    return body["fare_charged"], body["fare_kind"], body["transfers_in_window"]


async def test_taps_naming_only_stations_or_only_routes_transfer_between_different_ones(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await personalized_card(client, 20000)
    start = datetime.now(UTC) - timedelta(minutes=100)

    async def at_station(minutes: int, station_id: int) -> tuple[int, str, int]:
        at = start + timedelta(minutes=minutes)
        return priced(await tap(client, card_id, station_id=station_id, at=at))

    async def on_route(minutes: int, route_code: str) -> tuple[int, str, int]:
        at = start + timedelta(minutes=minutes)
        return priced(await tap(client, card_id, route_code=route_code, at=at))

    assert await at_station(0, network.trunk_station) == (FARE_2026, "full", 0)
    # Another station, no route on either tap: a transfer.
    assert await at_station(10, network.other_trunk_station) == (0, "transfer", 1)
    # The same station again: a new fare, which opens a new window.
    assert await at_station(20, network.other_trunk_station) == (FARE_2026, "full", 0)
    # Zonal routes, no station on either tap: the same route again is a new fare, another
    # route a transfer.
    assert await on_route(30, network.zonal_route) == (0, "transfer", 1)
    assert await on_route(40, network.zonal_route) == (FARE_2026, "full", 0)
    assert await on_route(50, network.other_zonal_route) == (0, "transfer", 1)
    assert await balance(client, card_id) == 20000 - 3 * FARE_2026


async def test_a_free_feeder_ride_opens_no_window_for_the_paid_boarding_after_it(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await personalized_card(client, 10000)
    start = datetime.now(UTC) - timedelta(minutes=60)
    feeder = await tap(client, card_id, route_code=network.feeder_route, at=start)
    assert priced(feeder) == (0, "full", 0)
    trunk = await tap(
        client, card_id, station_id=network.trunk_station, at=start + timedelta(minutes=15)
    )
    assert priced(trunk) == (FARE_2026, "full", 0)
    assert trunk.json()["transfer_window_left_seconds"] == 125 * 60
    assert await balance(client, card_id) == 10000 - FARE_2026


async def test_a_tap_id_used_by_one_card_is_refused_to_another_later(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    first, second = await personalized_card(client, 10000), await personalized_card(client, 10000)
    tap_id = str(uuid.uuid4())
    assert (await tap(client, first, station_id=network.trunk_station, tap_id=tap_id)).is_success
    reused = await tap(client, second, station_id=network.trunk_station, tap_id=tap_id)
    assert reused.status_code == 409
    assert reused.json() == {
        "error": "conflict",
        "detail": f"tap_id {tap_id} was already used by another card",
    }
    assert await count_rows(app, "trips") == 1
    assert (await balance(client, first), await balance(client, second)) == (
        10000 - FARE_2026,
        10000,
    )


@pytest.fixture
def server_in_bogota_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is Bogotá's for this test (validators and servers of
    the city may well run in it)."""
    monkeypatch.setenv("TZ", "America/Bogota")
    time.tzset()
    assert time.localtime(0).tm_gmtoff == -5 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_bogota_time")
async def test_a_tap_is_answered_in_utc_whatever_the_servers_time_zone(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await personalized_card(client, 10000)
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    response = await tap(client, card_id, station_id=network.trunk_station, at=at)
    assert response.status_code == 201, response.text
    assert response.json()["event_time"] == at.isoformat().replace("+00:00", "Z")
