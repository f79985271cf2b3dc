"""The log events of money moves: each names its card, its amounts and what it wrote, so an
operator can follow a peso through the logs (and never a card number)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_ACCOUNT_ID, TEST_ACCOUNT_LOGIN, Network
from tests.money import new_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550


class Events:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def named(self, event: str) -> list[dict[str, Any]]:
        return [
            dict(getattr(record, "fields", None) or {})
            for record in self._caplog.records
            if record.getMessage() == event
        ]


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Events:
    caplog.set_level(logging.INFO, logger="travel_recharge")
    return Events(caplog)


async def test_issue_recharge_and_tap_log_their_card_and_amounts(
    client: httpx.AsyncClient, network: Network, events: Events
) -> None:
    card_id = await new_card(client)
    recharged = await recharge(client, card_id, 10000)
    assert recharged.status_code == 201, recharged.text
    tapped = await tap(client, card_id, station_id=network.trunk_station)
    assert tapped.status_code == 201, tapped.text

    assert events.named("card.issued") == [{"card_id": card_id, "card_type": "basic"}]
    assert events.named("recharge.created") == [
        {"card_id": card_id, "amount": 10000, "recharge_id": recharged.json()["recharge_id"]}
    ]
    assert events.named("tap.priced") == [
        {
            "card_id": card_id,
            "trip_id": tapped.json()["trip_id"],
            "fare": FARE_2026,
            "fare_kind": "full",
        }
    ]


async def test_a_replacement_is_audited_with_the_new_card_and_the_amount_moved(
    client: httpx.AsyncClient, events: Events
) -> None:
    card_id = await new_card(client, "personalized")
    assert (await recharge(client, card_id, 7000)).status_code == 201
    replaced = await client.post(
        f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert replaced.status_code == 201, replaced.text
    (audited,) = events.named("audit.card.replaced")
    assert audited == {
        "actor_id": TEST_ACCOUNT_ID,
        "actor_login": TEST_ACCOUNT_LOGIN,
        "actor_role": "admin",
        "target": f"card:{card_id}",
        "new_card_id": replaced.json()["new_card"]["card_id"],
        "amount": 7000,
    }
