"""The riders: the mobile app's reads, and the taps and top-ups at the network's devices."""

from __future__ import annotations

import logging
import random
import uuid
from collections import deque
from typing import Any
from urllib.parse import quote

from api import (
    ALERTS,
    ARRIVALS,
    BALANCE,
    CARD_TRIPS,
    FARES,
    HISTORY,
    LEDGER,
    ME,
    RECHARGE,
    RECHARGE_RETRY,
    ROUTE_DETAILS,
    STATION_DETAILS,
    STATIONS,
    TAP,
    TOKEN,
    TRIP_END,
)
from dataset import CardState, Station
from locust import task
from locust.exception import RescheduleTask, StopUser
from options import option
from persona import Persona, failed
from run import CARDS_PER_DEVICE_USER

logger = logging.getLogger("loadtest")

# Point-of-sale top-ups (pesos) and how often each is chosen: about what the taps spend, so
# the tracked balances neither run away to the maximum nor drain on a long run.
TOP_UPS = (5_000, 10_000, 20_000, 50_000)
TOP_UP_WEIGHTS = (30, 40, 25, 5)


class MobileAppRider(Persona):
    """A rider with the mobile app: their own cards, then arrivals, stations and routes."""

    weight = 55
    pause_s = (1.0, 4.0)
    endpoints = (
        TOKEN,
        ME,
        BALANCE,
        HISTORY,
        CARD_TRIPS,
        LEDGER,
        ARRIVALS,
        STATION_DETAILS,
        ROUTE_DETAILS,
        ALERTS,
        STATIONS,
        FARES,
    )

    def on_start(self) -> None:
        super().on_start()
        self.account = self.shared.next_account("rider", self.shared.riders)
        self.card_ids: list[int] = []

    def _mine(self) -> tuple[int, dict[str, str]]:
        """One of the rider's cards, as the app lists them after signing in."""
        headers = self.bearer(self.account)
        if not self.card_ids:
            with self.client.get(ME, name=ME, headers=headers, catch_response=True) as response:
                if not failed(response, (200,)):
                    self.card_ids = list(response.json()["card_ids"])
                    if not self.card_ids:
                        response.failure("the rider has no card")
            if not self.card_ids:
                raise RescheduleTask()
        return random.choice(self.card_ids), headers

    def _station(self) -> Station:
        return random.choice(self.shared.network.stations)

    @task(10)
    def balance(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/balance", BALANCE, headers)

    @task(3)
    def recharge_history(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/history?limit=20", HISTORY, headers)

    @task(3)
    def card_trips(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/trips/card/{card_id}?limit=20", CARD_TRIPS, headers)

    @task(1)
    def ledger(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/ledger?limit=20", LEDGER, headers)

    @task(6)
    def arrivals(self) -> None:
        self.read(f"/api/v1/stations/{self._station().station_id}/arrivals", ARRIVALS)

    @task(3)
    def station_details(self) -> None:
        self.read(f"/api/v1/stations/{self._station().code}/details", STATION_DETAILS)

    @task(3)
    def route_details(self) -> None:
        code = random.choice(self.shared.network.route_codes)
        self.read(f"/api/v1/routes/{quote(code)}/details", ROUTE_DETAILS)

    @task(2)
    def station_alerts(self) -> None:
        self.read(f"/api/v1/stations/{self._station().station_id}/alerts", ALERTS)

    @task(1)
    def stations_of_locality(self) -> None:
        locality = random.choice(self.shared.network.localities)
        self.read(f"/api/v1/stations?locality={locality}&limit=50", STATIONS)

    @task(1)
    def fares(self) -> None:
        self.read(FARES, FARES)


class RiderAtDevices(Persona):
    """A regular rider at the devices: validators read its cards, recharge points top them up.

    The user owns a few cards for the run and tracks their balances from the answers."""

    weight = 28
    pause_s = (0.5, 2.0)
    endpoints = (TOKEN, TAP, TRIP_END, RECHARGE, RECHARGE_RETRY)

    def on_start(self) -> None:
        super().on_start()
        # Each validator account is one validator: a tap is sent by the account of the
        # validator that reads the card. A point-of-sale account sells at its own point.
        self.validators = {v.validator_id: v for v in self.shared.validators if v.validator_id}
        self.point = self.shared.next_account("recharge_point", self.shared.recharge_point_accounts)
        pool = self.shared.tap_cards
        self.cards = [pool.popleft() for _ in range(min(CARDS_PER_DEVICE_USER, len(pool)))]
        if not self.cards:
            logger.error("loadtest.no_free_card: seed more cards or run fewer users")
            raise StopUser()
        self.open_trips: deque[tuple[int, int]] = deque(maxlen=50)  # (trip id, boarding)

    def on_stop(self) -> None:
        if hasattr(self, "cards"):  # not when the user stopped in on_start
            self.shared.tap_cards.extend(self.cards)  # free for users of a later start
            self.cards = []

    def _recharge(self, card: CardState, amount: int) -> None:
        body = {
            "card_id": card.card_id,
            "amount": amount,
            "recharge_point_id": self.point.recharge_point_id,
        }
        headers = self.bearer(self.point, device=True) | {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            RECHARGE, json=body, headers=headers, name=RECHARGE, catch_response=True
        ) as response:
            if failed(response, (201,)):
                return
            answer = response.json()
            card.balance = int(answer["new_balance"])
        # A recharge point that lost the answer sends the same request again: the service
        # must answer the original recharge and credit nothing.
        if random.random() < option(self.environment, "recharge_retry_share"):
            with self.client.post(
                RECHARGE, json=body, headers=headers, name=RECHARGE_RETRY, catch_response=True
            ) as retry:
                if failed(retry, (201,)):
                    return
                if retry.headers.get("Idempotent-Replayed") != "true" or retry.json() != answer:
                    retry.failure("a retried recharge did not replay the original answer")

    def _top_up(self, card: CardState, at_least: int = 0) -> bool:
        """Recharge the card with an amount the policy and the maximum balance allow."""
        fares = self.shared.fares
        room = min(fares.recharge_max, fares.max_balance - card.balance)
        amounts = [a for a in TOP_UPS if max(at_least, fares.recharge_min) <= a <= room]
        if not amounts:
            return False
        weights = [w for a, w in zip(TOP_UPS, TOP_UP_WEIGHTS, strict=True) if a in amounts]
        self._recharge(card, random.choices(amounts, weights)[0])
        return True

    def _card_to_ride(self) -> CardState:
        """A card whose balance pays any full fare, topped up at the station when short."""
        card = random.choice(self.cards)
        if card.balance < self.shared.fares.full_fare:
            self._top_up(card, at_least=self.shared.fares.full_fare - card.balance)
        if card.balance < self.shared.fares.full_fare:
            raise RescheduleTask()  # the top-up failed (and was counted): no 402 by design
        return card

    def _validator(self, card: CardState) -> str:
        """A validator that has not read the card lately; none: the rider waits a turn."""
        validator = card.fresh_validator(list(self.validators))
        if validator is None:
            raise RescheduleTask()
        return validator

    def _tap(self, card: CardState, body: dict[str, Any]) -> dict[str, Any] | None:
        """Post the tap, sent by the account of the validator it names; the new trip's
        answer (None for a failure or a duplicate)."""
        body = {"card_id": card.card_id, "tap_id": str(uuid.uuid4())} | body
        headers = self.bearer(self.validators[body["validator_id"]], device=True)
        with self.client.post(
            TAP, json=body, headers=headers, name=TAP, catch_response=True
        ) as response:
            if failed(response, (200, 201)):
                return None
            answer: dict[str, Any] = response.json()
        if answer["duplicate"]:
            return None  # nothing was charged now: the tracked balance stands
        card.balance = int(answer["balance_after"])
        return answer

    @task(6)
    def tap_in_at_station(self) -> None:
        card = self._card_to_ride()
        station = random.choice(self.shared.network.boarding)
        validator = self._validator(card)
        answer = self._tap(card, {"station_id": station.station_id, "validator_id": validator})
        if answer is not None:
            self.open_trips.append((int(answer["trip_id"]), station.station_id))

    @task(3)
    def tap_on_bus(self) -> None:
        card = self._card_to_ride()
        route_code, stops = random.choice(self.shared.network.bus_stops)
        body = {
            "route_code": route_code,
            "station_id": random.choice(stops),
            "validator_id": self._validator(card),
        }
        self._tap(card, body)

    @task(4)
    def end_trip(self) -> None:
        """Tap out of a trip this user started (one it started now if none is open)."""
        if not self.open_trips:
            self.tap_in_at_station()
        if not self.open_trips:
            return
        trip_id, boarding = self.open_trips.popleft()
        exits = [s for s in random.sample(self.shared.network.exits, 2) if s.station_id != boarding]
        body = {"trip_id": trip_id, "station_id": exits[0].station_id}
        # The exit gate: any validator (a trip end names none, so any may send it).
        headers = self.bearer(random.choice(self.shared.validators), device=True)
        with self.client.post(
            TRIP_END, json=body, headers=headers, name=TRIP_END, catch_response=True
        ) as response:
            failed(response, (200,))

    @task(2)
    def recharge(self) -> None:
        """A top-up at a ticket counter or kiosk, of the card that needs it most."""
        self._top_up(min(self.cards, key=lambda c: c.balance))
