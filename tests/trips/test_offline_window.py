"""Backdated taps: a tap older than the offline window is refused, so no tap can be priced
by an older, cheaper fare policy (security issue #18, finding 6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows, ledger_ok
from tests.money import balance, new_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_NOW = 3550  # the trunk fare in force today (and for the last three days)


async def funded_card(client: httpx.AsyncClient, amount: int = 10_000) -> int:
    card_id = await new_card(client)
    assert (await recharge(client, card_id, amount)).status_code == 201
    return card_id


async def test_a_tap_backdated_to_an_older_fare_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client)
    # The report's tap: 2023-02-02 was accepted and priced at that year's 2,950.
    backdated = datetime(2023, 2, 2, 8, 0, tzinfo=UTC)
    response = await tap(client, card_id, station_id=network.trunk_station, at=backdated)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"] == (
        "event_time: is older than the offline window of 259200 s (TR_TAP_OFFLINE_WINDOW_S);"
        " a tap must reach the service within it"
    )
    assert await count_rows(app, "trips") == 0
    assert await count_rows(app, "ledger_entries") == 1  # the recharge's only
    assert await balance(client, card_id) == 10_000


async def test_the_default_window_is_three_days(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    assert app.state.settings.tap_offline_window_s == 3 * 86_400
    card_id = await funded_card(client)
    now = datetime.now(UTC)
    outside = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        at=now - timedelta(days=3, minutes=1),
    )
    assert outside.status_code == 422, outside.text
    assert outside.json()["detail"].startswith("event_time: is older than the offline window")
    # Just inside the window: an offline validator's tap is still priced, by its event time.
    inside = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        at=now - timedelta(days=3) + timedelta(minutes=1),
    )
    assert inside.status_code == 201, inside.text
    assert (inside.json()["fare_charged"], inside.json()["fare_kind"]) == (FARE_NOW, "full")
    assert await balance(client, card_id) == 10_000 - FARE_NOW
    assert await count_rows(app, "trips") == 1
    await ledger_ok(client)


async def test_the_window_is_a_setting(
    client: httpx.AsyncClient,
    app: FastAPI,
    network: Network,
    offline_window: Callable[[timedelta], None],
) -> None:
    offline_window(timedelta(hours=1))
    card_id = await funded_card(client)
    now = datetime.now(UTC)
    late = await tap(client, card_id, station_id=network.trunk_station, at=now - timedelta(hours=2))
    assert late.status_code == 422
    assert "offline window of 3600 s" in late.json()["detail"]
    in_time = await tap(
        client, card_id, station_id=network.trunk_station, at=now - timedelta(minutes=30)
    )
    assert in_time.status_code == 201, in_time.text
    assert await count_rows(app, "trips") == 1
    await ledger_ok(client)


async def test_a_retry_after_the_window_closed_still_gets_its_original_answer(
    client: httpx.AsyncClient,
    app: FastAPI,
    network: Network,
    offline_window: Callable[[timedelta], None],
) -> None:
    """The window refuses new taps, not retries: a tap accepted in time and retried after the
    window closed answers the original trip (a retry never fails where the tap succeeded)."""
    card_id = await funded_card(client)
    at = datetime.now(UTC) - timedelta(minutes=50)
    first = await tap(client, card_id, station_id=network.trunk_station, at=at)
    assert first.status_code == 201
    offline_window(timedelta(minutes=30))
    body = first.json()
    retry = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        at=at,
        validator=body["validator_id"],
        tap_id=body["tap_id"],
    )
    assert retry.status_code == 200, retry.text
    assert retry.json() == {**body, "duplicate": True}
    other = await tap(client, card_id, station_id=network.trunk_station, at=at)
    assert other.status_code == 422
    assert await count_rows(app, "trips") == 1
    assert await balance(client, card_id) == 10_000 - FARE_NOW
