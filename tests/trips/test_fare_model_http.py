"""Random days of riding through the real HTTP API, every answer checked against the model.

A hypothesis state machine issues cards, recharges them, taps them across window edges, month
boundaries and fare policy changes (late taps, double taps and retries included), blocks,
unblocks and replaces them, all through the service on real PostgreSQL and Redis. After every
step each card's balance, credit trips and whole ledger must equal the reference model's
(tests/fares/reference_model.py, written from the rules, not from the engine).

The run is derandomized so CI is repeatable; TR_MODEL_EXAMPLES=500 explores further, with a
fresh random seed each time.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import Network, bearer, client_for
from tests.fares import reference_model as model
from tests.fares.reference_model import ModelCard
from tests.fares.test_reference_model import POLICIES, STARTS, WHENS, When, tap_time
from tests.money import new_user
from travel_recharge.app import create_app
from travel_recharge.cards.schemas import MAX_AMOUNT
from travel_recharge.fares.policy import ServiceKind
from travel_recharge.kit.config import Settings
from travel_recharge.security.roles import Role

T = TypeVar("T")

# Where a card is read, as (station id, route code), on the `network` fixture's stations and
# routes plus a cable station this module adds: the service kind comes from the route when one
# is given, else from the station.
CABLE_STATION = 4
PLACES = [
    (1, None),  # Portal Norte (trunk)
    (2, None),  # Calle 72 (trunk)
    (3, None),  # a zonal stop
    (CABLE_STATION, None),
    (None, "B74"),  # trunk route
    (None, "18-3"),  # zonal
    (3, "18-3"),
    (None, "C17"),  # zonal
    (3, "C17"),
    (None, "16-1"),  # feeder: free
    (1, "16-1"),
]
SERVICE = {
    1: ServiceKind.TRUNK,
    2: ServiceKind.TRUNK,
    3: ServiceKind.ZONAL,
    CABLE_STATION: ServiceKind.CABLE,
    "B74": ServiceKind.TRUNK,
    "18-3": ServiceKind.ZONAL,
    "C17": ServiceKind.ZONAL,
    "16-1": ServiceKind.FEEDER,
}
PROFILES = [
    None,
    "elderly",
    "elderly",
    "disability",
    "student_jovenes_e",
    "child_under_2",
]  # elderly twice: its reduced fare before 2025-02 is the rarest rule
# Mostly amounts a point of sale takes, and every edge of the limits: below the minimum, the
# maximum balance, what the request model refuses outright.
# Few cards, so that each rides many taps (every check after a step reads every card).
MAX_CARDS = 3
AMOUNTS = st.one_of(
    st.integers(50, 12_000),
    st.sampled_from([-1, 0, 1, 49, 50, 418_000, 418_001, MAX_AMOUNT, MAX_AMOUNT + 1]),
)


@dataclass
class Harness:
    """An app of its own on an event loop of its own: hypothesis drives the machine
    synchronously, and every request runs to completion on this loop."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)


@pytest.fixture
def harness(settings: Settings, network: Network) -> Iterator[Harness]:
    del network  # its stations and routes, which the cable station joins
    # Taps years old are accepted: the days ride on fixed dates across policy changes.
    wide = settings.model_copy(update={"tap_offline_window_s": 20 * 365 * 86_400})
    loop = asyncio.new_event_loop()
    app = create_app(wide)
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())
    client = client_for(app, bearer(app, Role.admin))
    try:
        loop.run_until_complete(_add_cable_station(app.state.database.primary))
        yield Harness(loop, client)
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()


async def _add_cable_station(engine: Any) -> None:
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude,"
            " longitude) VALUES ($1, '19001', 'Portal Tunal Cable', 'cable', NULL, '11',"
            " 4.569, -74.134)",
            (CABLE_STATION,),
        )


@dataclass
class LastTap:
    at: datetime
    validator_id: str
    tap_id: str
    body: dict[str, Any]


@dataclass
class LastRecharge:
    key: str
    request: dict[str, Any]
    status_code: int
    body: dict[str, Any]


class FareRulesOverHttp(RuleBasedStateMachine):
    cards = Bundle("cards")

    def __init__(self, harness: Harness, seen: Counter[str]) -> None:
        super().__init__()
        self.harness = harness
        self.seen = seen  # what the answers were, over every run of the machine
        self.model: dict[int, ModelCard] = {}
        self.last_tap: dict[int, LastTap] = {}
        self.last_recharge: LastRecharge | None = None
        self.latest = STARTS[0]

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.harness.run(self.harness.client.request(method, url, **kwargs))

    @initialize(target=cards, start=st.sampled_from(STARTS), profile=st.sampled_from(PROFILES))
    def begin_the_day(self, start: datetime, profile: str | None) -> int:
        """Every day starts with a funded personalized card, the one most rules apply to."""
        self.latest = start
        return self.issue_a_card(True, profile, 10_000)

    @precondition(lambda machine: len(machine.model) < MAX_CARDS)
    @rule(
        target=cards,
        personalized=st.sampled_from([True, True, True, False]),
        profile=st.sampled_from(PROFILES),
        amount=st.sampled_from([0, 3000, 10_000, 50_000]),
    )
    def issue_a_card(self, personalized: bool, profile: str | None, amount: int) -> int:
        body: dict[str, Any] = {"card_type": "personalized" if personalized else "basic"}
        if personalized:
            body["user_id"] = self.harness.run(new_user(self.harness.client))
            if profile is not None:
                body["profile"] = profile
        response = self.call("POST", "/api/v1/cards", json=body)
        assert response.status_code == 201, response.text
        card_id = int(response.json()["card_id"])
        self.model[card_id] = ModelCard(personalized, body.get("profile"))
        if amount:
            self.recharge(card_id, amount)
        return card_id

    @rule(card_id=cards, amount=AMOUNTS)
    def recharge(self, card_id: int, amount: int) -> None:
        card = self.model[card_id]
        request = {"card_id": card_id, "amount": amount, "recharge_point_id": 1}
        key = uuid.uuid4().hex
        response = self.call(
            "POST", "/api/v1/cards/recharge", json=request, headers={"Idempotency-Key": key}
        )
        # The recharge happens now, under the policy in force now.
        policy = model.policy_at(POLICIES, datetime.now(UTC))
        if not 1 <= amount <= MAX_AMOUNT:
            expected = 422
        elif card.status != "active":
            expected = 409
        elif model.recharge_refusal(card, amount, policy) is not None:
            expected = 422
        else:
            expected = 201
            model.post_recharge(card, amount, policy)
        assert response.status_code == expected, response.text
        if expected == 201:
            assert response.json()["new_balance"] == card.balance
            self.last_recharge = LastRecharge(key, request, 201, response.json())
        elif expected == 422:
            assert "amount" in response.text

    @rule()
    def retry_the_last_recharge(self) -> None:
        last = self.last_recharge
        if last is None:
            return
        response = self.call(
            "POST",
            "/api/v1/cards/recharge",
            json=last.request,
            headers={"Idempotency-Key": last.key},
        )
        assert (response.status_code, response.json()) == (last.status_code, last.body)

    @rule(card_id=cards, when=WHENS, place=st.sampled_from(PLACES))
    def tap(self, card_id: int, when: When, place: tuple[int | None, str | None]) -> None:
        self.ride(card_id, when, place)

    @rule(card_id=cards, seconds=st.integers(1, 900), place=st.sampled_from(PLACES))
    def change_buses(
        self, card_id: int, seconds: int, place: tuple[int | None, str | None]
    ) -> None:
        self.ride(card_id, ("after", seconds), place)

    @rule(card_id=cards, delta=st.integers(-1, 1), place=st.sampled_from(PLACES))
    def board_at_the_window_edge(
        self, card_id: int, delta: int, place: tuple[int | None, str | None]
    ) -> None:
        self.ride(card_id, ("edge", delta), place)

    def ride(self, card_id: int, when: When, place: tuple[int | None, str | None]) -> None:
        card = self.model[card_id]
        at = tap_time(card, self.latest, when)
        if any(ride.at == at for ride in card.rides) or at < STARTS[0]:
            return  # two taps of one card in the same second have no order to price by
        self.latest = max(self.latest, at)
        station_id, route_code = place
        service = SERVICE[route_code if route_code is not None else station_id]
        validator_id = f"V-{uuid.uuid4().hex[:8]}"
        tap_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "card_id": card_id,
            "validator_id": validator_id,
            "tap_id": tap_id,
            "event_time": at.isoformat(),
        }
        if station_id is not None:
            body["station_id"] = station_id
        if route_code is not None:
            body["route_code"] = route_code
        response = self.call("POST", "/api/v1/trips/start", json=body)
        if card.status != "active":
            assert response.status_code == 409, response.text
            self.seen["not active"] += 1
            return
        route = route_code
        stop = None if station_id is None else str(station_id)
        expected = model.post_tap(card, at, service, route, stop, POLICIES)
        if isinstance(expected, model.Refused):
            self.seen["refused"] += 1
            assert response.status_code == 402, response.text
            return
        self.seen[expected.fare_kind] += 1
        assert response.status_code == 201, response.text
        answer = response.json()
        got = {f.name: answer[f.name] for f in fields(model.Fare)}
        assert got == vars(expected), (at, service, route, stop)
        assert answer["service_kind"] == service.value
        self.last_tap[card_id] = LastTap(at, validator_id, tap_id, answer)

    @rule(card_id=cards, seconds=st.integers(-60, 60), same_tap_id=st.booleans())
    def tap_again(self, card_id: int, seconds: int, same_tap_id: bool) -> None:
        """A retry (the same tap_id) or a double tap (the same validator within a minute)
        gets the first tap's answer and charges nothing, even on a card blocked since."""
        last = self.last_tap.get(card_id)
        if last is None:
            return
        body = {
            "card_id": card_id,
            "validator_id": last.validator_id,
            "tap_id": last.tap_id if same_tap_id else str(uuid.uuid4()),
            "event_time": (last.at + timedelta(seconds=seconds)).isoformat(),
        }
        for name in ("station_id", "route_code"):
            if last.body[name] is not None:
                body[name] = last.body[name]
        response = self.call("POST", "/api/v1/trips/start", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {**last.body, "duplicate": True}
        self.seen["duplicate"] += 1

    @rule(card_id=cards, block=st.sampled_from([True, False, False]))
    def block_or_unblock(self, card_id: int, block: bool) -> None:
        """Block a card (lost), or unblock it; unblocking is drawn more often, so that most
        cards are usable most of the time."""
        card = self.model[card_id]
        if block:
            response = self.call("POST", f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
            allowed, after = card.status == "active", "blocked"
        else:
            response = self.call("POST", f"/api/v1/cards/{card_id}/unblock")
            allowed, after = card.status == "blocked", "active"
        assert response.status_code == (200 if allowed else 409), response.text
        if allowed:
            card.status = after

    @precondition(lambda machine: len(machine.model) < MAX_CARDS)
    @rule(target=cards, card_id=cards)
    def replace(self, card_id: int) -> Any:
        old = self.model[card_id]
        response = self.call(
            "POST",
            f"/api/v1/cards/{card_id}/replace",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if not old.personalized or old.status not in ("active", "blocked"):
            assert response.status_code == 409, response.text
            return multiple()
        assert response.status_code == 201, response.text
        self.seen["replaced"] += 1
        new_id = int(response.json()["new_card"]["card_id"])
        moved = old.balance
        assert response.json()["balance_moved"] == moved
        # The rides stay with the old card: the new one starts with no window, keeps the debt
        # of credit trips, and the benefit trips the person used this month.
        new = ModelCard(True, old.profile, moved, old.credit_trips_in_use, replaced=old)
        if moved:
            old.ledger.append(("balance_transfer", -moved, 0))
            new.ledger.append(("balance_transfer", moved, moved))
        old.status, old.balance, old.credit_trips_in_use = "replaced", 0, 0
        self.model[new_id] = new
        return new_id

    @invariant()
    def every_card_and_its_ledger_equal_the_model(self) -> None:
        for card_id, card in self.model.items():
            view = self.call("GET", f"/api/v1/cards/{card_id}/balance")
            assert view.status_code == 200, view.text
            shown = view.json()
            assert (shown["balance"], shown["credit_trips_in_use"], shown["status"]) == (
                card.balance,
                card.credit_trips_in_use,
                card.status,
            ), card_id
            ledger = self.call("GET", f"/api/v1/cards/{card_id}/ledger", params={"limit": 500})
            assert ledger.status_code == 200, ledger.text
            entries = [
                (e["kind"], e["amount"], e["balance_after"])
                for e in reversed(ledger.json()["entries"])
            ]
            assert entries == card.ledger, card_id


def test_random_days_through_the_api_match_the_reference_model(harness: Harness) -> None:
    examples = int(os.environ.get("TR_MODEL_EXAMPLES", "0"))
    seen: Counter[str] = Counter()
    run_state_machine_as_test(
        lambda: FareRulesOverHttp(harness, seen),
        settings=hypothesis_settings(
            max_examples=examples or 40,
            stateful_step_count=60,
            derandomize=not examples,
            deadline=None,
        ),
    )
    # The days must have reached every rule, or the comparison proved little.
    kinds = ["full", "transfer", "credit", "free_trip", "reduced_fare", "refused"]
    assert all(seen[kind] for kind in [*kinds, "duplicate", "replaced"]), seen
    verified = harness.run(harness.client.get("/api/v1/admin/ledger/verify")).json()
    assert (verified["ok"], verified["mismatches"]) == (True, [])
