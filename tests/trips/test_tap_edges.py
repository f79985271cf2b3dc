"""Taps at the edges of the rules: retries after a block, late and double taps, one tap_id for
two cards, the monthly benefit and the Bogotá month, and trips ended at unknown stations.

Each expected value is worked out from the fare rules (../shared/DOMAIN.md, the shipped 2026
policy: 3,550 a fare, 125 minutes, 2 transfers, elderly 8 free trips a month), not from the
engine's code.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, count_rows
from tests.money import (
    balance,
    cards_held,
    funded_card,
    tap,
    wait_for_lock_waiters,
)

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550
BOGOTA = ZoneInfo("America/Bogota")


async def fare_entries(client: httpx.AsyncClient, card_id: int) -> list[tuple[str, int, int]]:
    """The card's ledger entries as (kind, amount, balance after), oldest first."""
    response = await client.get(f"/api/v1/cards/{card_id}/ledger")
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    return [(e["kind"], e["amount"], e["balance_after"]) for e in reversed(entries)]


async def test_a_retried_tap_after_the_card_was_blocked_gets_its_original_answer(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    tap_id = str(uuid.uuid4())
    first = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    assert first.status_code == 201, first.text
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200

    retry = await tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
    assert retry.status_code == 200, retry.text
    assert retry.json() == {**first.json(), "duplicate": True}
    # A new tap of the blocked card is refused and charges nothing.
    refused = await tap(client, card_id, station_id=network.trunk_station)
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "conflict",
        "detail": f"card {card_id} is blocked; only active cards can be used",
    }
    assert await count_rows(app, "trips") == 1
    assert await balance(client, card_id) == 10000 - FARE_2026
    assert await fare_entries(client, card_id) == [
        ("recharge", 10000, 10000),
        ("fare", -FARE_2026, 10000 - FARE_2026),
    ]


@pytest.mark.usefixtures("wide_offline_window")
async def test_monthly_benefit_trips_run_out_and_come_back_on_the_bogota_month(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, FARE_2026, "personalized", profile="elderly")
    # The elderly profile has 8 free trips a month; one a day, far apart (no transfers).
    for day in range(2, 10):
        at = datetime(2026, 3, day, 8, 0, tzinfo=BOGOTA)
        free = await tap(client, card_id, station_id=network.trunk_station, at=at)
        assert free.status_code == 201, free.text
        body = free.json()
        assert (body["fare_charged"], body["fare_kind"], body["benefit_trip_used"]) == (
            0,
            "free_trip",
            True,
        )
    # 23:30 on 31 March in Bogotá is already 1 April in UTC: still March's (used up) trips.
    last_of_march = datetime(2026, 3, 31, 23, 30, tzinfo=BOGOTA)
    assert last_of_march.astimezone(UTC).month == 4
    ninth = await tap(client, card_id, station_id=network.trunk_station, at=last_of_march)
    assert ninth.status_code == 201, ninth.text
    body = ninth.json()
    assert (body["fare_charged"], body["fare_kind"], body["benefit_trip_used"]) == (
        FARE_2026,
        "full",
        False,
    )
    assert body["balance_after"] == 0
    # Midnight in Bogotá starts April's trips. Same stop again, so not a transfer of the
    # 23:30 fare: a new boarding, free again.
    april = datetime(2026, 4, 1, 0, 0, tzinfo=BOGOTA)
    first_of_april = await tap(client, card_id, station_id=network.trunk_station, at=april)
    assert first_of_april.status_code == 201, first_of_april.text
    body = first_of_april.json()
    assert (body["fare_charged"], body["fare_kind"], body["benefit_trip_used"]) == (
        0,
        "free_trip",
        True,
    )
    assert (body["balance_after"], body["is_transfer"]) == (0, False)
    assert await balance(client, card_id) == 0
    fares = [e for e in await fare_entries(client, card_id) if e[0] == "fare"]
    assert fares == [("fare", 0, FARE_2026)] * 8 + [("fare", -FARE_2026, 0), ("fare", 0, 0)]


async def test_out_of_order_taps_are_priced_by_the_taps_before_them(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 20000, "personalized")
    start = datetime.now(UTC) - timedelta(minutes=150)

    async def tap_at(
        minutes: int, station_id: int | None = None, route_code: str | None = None
    ) -> dict[str, object]:
        at = start + timedelta(minutes=minutes)
        response = await tap(client, card_id, station_id=station_id, route_code=route_code, at=at)
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body

    def priced(body: dict[str, object]) -> tuple[object, ...]:
        keys = ("fare_charged", "fare_kind", "transfers_in_window", "transfer_window_left_seconds")
        return tuple(body[k] for k in keys)

    anchor = await tap_at(0, station_id=network.trunk_station)
    assert priced(anchor) == (FARE_2026, "full", 0, 125 * 60)
    after_hour = await tap_at(60, route_code=network.zonal_route)
    assert priced(after_hour) == (0, "transfer", 1, 65 * 60)
    # Arrives late: it sees only the anchor (the taps before its event time), so it is the
    # first transfer of that window; the tap at +60 already priced is not repriced.
    late = await tap_at(30, route_code=network.other_zonal_route)
    assert priced(late) == (0, "transfer", 1, 95 * 60)
    # The window now holds two transfers (+30 and +60): the next boarding is a new fare.
    # Without the late tap it would have been a free second transfer.
    closing = await tap_at(90, station_id=network.other_trunk_station)
    assert priced(closing) == (FARE_2026, "full", 0, 125 * 60)
    assert await balance(client, card_id) == 20000 - 2 * FARE_2026
    assert [e for e in await fare_entries(client, card_id) if e[0] == "fare"] == [
        ("fare", -FARE_2026, 20000 - FARE_2026),
        ("fare", 0, 20000 - FARE_2026),
        ("fare", 0, 20000 - FARE_2026),
        ("fare", -FARE_2026, 20000 - 2 * FARE_2026),
    ]


async def test_a_double_tap_with_a_slightly_earlier_event_time_is_the_same_tap(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    at = datetime.now(UTC) - timedelta(minutes=10)
    first = await tap(client, card_id, station_id=network.trunk_station, validator="V1", at=at)
    assert first.status_code == 201, first.text
    earlier = await tap(
        client,
        card_id,
        station_id=network.trunk_station,
        validator="V1",
        at=at - timedelta(seconds=5),
    )
    assert earlier.status_code == 200, earlier.text
    assert earlier.json() == {**first.json(), "duplicate": True}
    assert await count_rows(app, "trips") == 1
    assert await balance(client, card_id) == 10000 - FARE_2026


async def test_a_tap_sent_with_a_local_offset_is_answered_alike_the_first_time_and_on_retry(
    client: httpx.AsyncClient, network: Network
) -> None:
    """Found by the model-based test: the first answer echoed the validator's offset while a
    retry, read back from the database, answered in UTC. Both answer in UTC now."""
    card_id = await funded_card(client, 10000)
    at = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0).astimezone(BOGOTA)
    tap_id = str(uuid.uuid4())
    first = await tap(client, card_id, station_id=network.trunk_station, at=at, tap_id=tap_id)
    assert first.status_code == 201, first.text
    assert first.json()["event_time"] == at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    retry = await tap(client, card_id, station_id=network.trunk_station, at=at, tap_id=tap_id)
    assert retry.status_code == 200, retry.text
    assert retry.json() == {**first.json(), "duplicate": True}


async def test_one_tap_id_sent_for_two_cards_at_once_charges_one_card(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    rounds = 5
    for _ in range(rounds):
        cards = [await funded_card(client, 10000), await funded_card(client, 10000)]
        tap_id = str(uuid.uuid4())
        # Both taps queue behind the cards' locks, then run at once: each finds the tap_id
        # free, and the second insert meets the first on the unique tap_id.
        async with cards_held(app, *cards):
            pending = [
                asyncio.create_task(
                    tap(client, card_id, station_id=network.trunk_station, tap_id=tap_id)
                )
                for card_id in cards
            ]
            await wait_for_lock_waiters(app, len(cards))
        answers = await asyncio.gather(*pending)
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        winner, loser = sorted(answers, key=lambda a: a.status_code)
        assert loser.json() == {
            "error": "conflict",
            "detail": f"tap_id {tap_id} was already used by another card",
        }
        charged = winner.json()["card_id"]
        (refused,) = [card_id for card_id in cards if card_id != charged]
        assert await balance(client, charged) == 10000 - FARE_2026
        assert await balance(client, refused) == 10000
        assert await fare_entries(client, refused) == [("recharge", 10000, 10000)]
    assert await count_rows(app, "trips") == rounds


async def test_a_trip_ended_at_an_unknown_station_is_404_and_stays_open(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await funded_card(client, 10000)
    trip_id = (await tap(client, card_id, station_id=network.trunk_station)).json()["trip_id"]
    unknown = await client.post("/api/v1/trips/end", json={"trip_id": trip_id, "station_id": 999})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not_found", "detail": "station 999 does not exist"}
    (trip,) = (await client.get(f"/api/v1/trips/card/{card_id}")).json()["trips"]
    assert (trip["disembarking_station_id"], trip["disembarking_time"]) == (None, None)
    ended = await client.post(
        "/api/v1/trips/end", json={"trip_id": trip_id, "station_id": network.other_trunk_station}
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["disembarking_station_id"] == network.other_trunk_station
    # Bogotá charges on entry: ending a trip moves no money.
    assert await balance(client, card_id) == 10000 - FARE_2026
    assert await fare_entries(client, card_id) == [
        ("recharge", 10000, 10000),
        ("fare", -FARE_2026, 10000 - FARE_2026),
    ]


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00"])
async def test_an_event_time_at_the_ends_of_the_calendar_is_a_422(
    app: FastAPI, client: httpx.AsyncClient, network: Network, at: str
) -> None:
    """Found by fuzzing the offline batches: the month of year 1 in Bogotá is not a date
    Python can write (it was a 500 online too)."""
    card_id = await funded_card(client, 10_000)
    response = await client.post(
        "/api/v1/trips/start",
        json={
            "card_id": card_id,
            "station_id": network.trunk_station,
            "validator_id": "V-EDGE",
            "tap_id": str(uuid.uuid4()),
            "event_time": at,
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("event_time: ")
    assert await count_rows(app, "trips") == 0
