"""Business counters move once per committed operation, never for replays or refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Network
from tests.money import new_card, recharge, tap
from tests.observability.samples import value


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def tap_figures(service_kind: str, fare_kind: str) -> tuple[float, float]:
    labels = {"service_kind": service_kind, "fare_kind": fare_kind}
    return value("taps_total", **labels), value("fares_charged_pesos_total", **labels)


def recharge_figures(channel: str = "counter") -> tuple[float, float]:
    return value("recharges_total", channel=channel), value(
        "recharged_pesos_total", channel=channel
    )


async def funded(client: httpx.AsyncClient, amount: int, card_type: str = "basic") -> int:
    card_id = await new_card(client, card_type)
    if amount:
        assert (await recharge(client, card_id, amount)).status_code == 201
    return card_id


async def test_a_tap_counts_once_with_its_fare_and_its_retry_does_not(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded(client, 20000)
    taps, fares = tap_figures("trunk", "full")
    tap_id = str(uuid.uuid4())
    first = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    assert first.status_code == 201
    fare = first.json()["fare_charged"]
    assert fare > 0
    assert tap_figures("trunk", "full") == (taps + 1, fares + fare)

    retry = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    assert (retry.status_code, retry.json()["duplicate"]) == (200, True)
    assert tap_figures("trunk", "full") == (taps + 1, fares + fare)


async def test_double_taps_and_declined_taps_do_not_count(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded(client, 5000)
    at = minutes_ago(10)
    first = await tap(client, card_id, station_id=network.trunk_station, validator="V1", at=at)
    assert first.status_code == 201
    counted = tap_figures("trunk", "full")
    later = at + timedelta(seconds=30)
    double = await tap(client, card_id, station_id=network.trunk_station, validator="V1", at=later)
    assert (double.status_code, double.json()["duplicate"]) == (200, True)
    declined = await tap(client, card_id, station_id=network.trunk_station, validator="V2")
    assert declined.status_code == 402
    assert tap_figures("trunk", "full") == counted


async def test_transfers_and_credit_trips_are_counted(
    client: httpx.AsyncClient, network: Network
) -> None:
    transfers = value("transfers_total", service_kind="trunk")
    card_id = await funded(client, 20000, "personalized")
    start = minutes_ago(100)
    assert (await tap(client, card_id, route_code=network.zonal_route, at=start)).status_code == 201
    free_taps, free_fares = tap_figures("trunk", "transfer")
    second = await tap(
        client, card_id, station_id=network.trunk_station, at=start + timedelta(minutes=40)
    )
    assert (second.json()["is_transfer"], second.json()["fare_kind"]) == (True, "transfer")
    assert value("transfers_total", service_kind="trunk") - transfers == 1
    assert tap_figures("trunk", "transfer") == (free_taps + 1, free_fares + 0)

    credit = value("credit_trips_total", service_kind="trunk")
    broke = await funded(client, 0, "personalized")
    on_credit = await tap(client, broke, station_id=network.trunk_station, at=minutes_ago(300))
    assert on_credit.json()["credit_used"] is True
    assert value("credit_trips_total", service_kind="trunk") - credit == 1


async def test_a_recharge_and_its_replay_count_once_with_the_amount(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client)
    count, pesos = recharge_figures()
    key = uuid.uuid4().hex
    first = await recharge(client, card_id, 12000, key=key)
    replay = await recharge(client, card_id, 12000, key=key)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert recharge_figures() == (count + 1, pesos + 12000)

    refused = await recharge(client, card_id, 12000, point=network.web_point)
    assert refused.status_code == 422
    assert recharge_figures() == (count + 1, pesos + 12000)
