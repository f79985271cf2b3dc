"""Fault drills: taps and recharges from several client threads, with a client-side log.

A drill is what a fleet of validators and recharge points does while a server dies: each
client thread sends taps (80%) and recharges (20%) to the service's front, retries an
operation whose outcome it does not know (a 502, 503 or 504, a dropped connection, a
timeout) with the same tap_id or Idempotency-Key until it is acknowledged, and logs every
attempt. The log is the client's word: the checker (cluster.checker) then holds the database
to it — every acknowledged operation there exactly once, nothing applied twice.

Each drill taps and recharges cards of its own (prepare_drill makes them), so drills run one
after another against the same database never see each other's money.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
import httpx

TAP_PATH = "/api/v1/trips/start"
RECHARGE_PATH = "/api/v1/cards/recharge"
# Statuses after which the outcome of a write is unknown or it was not applied: the device
# sends it again, with the same key. (HAProxy answers 502/503/504 when no node can take it.)
RETRY_STATUSES = frozenset({502, 503, 504})
OPENING_BALANCE = 418_000  # the maximum balance of a basic card: taps never run short
RECHARGE_AMOUNTS = (2_000, 5_000, 10_000)

Kind = Literal["tap", "recharge"]


@dataclass
class Operation:
    """One tap or recharge as its device saw it: every attempt, and the acknowledgement."""

    kind: Kind
    key: str  # tap_id or Idempotency-Key: a retry sends the same
    card_id: int
    amount: int  # the recharge's pesos (0 for a tap)
    started: float  # time.monotonic()
    attempts: list[tuple[float, int | None]] = field(default_factory=list)  # (when, status)
    acknowledged_at: float | None = None
    result_id: int | None = None  # the trip_id or recharge_id the service answered

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


@dataclass
class DrillLog:
    """Everything the clients sent and heard, appended from several threads."""

    operations: list[Operation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, operation: Operation) -> None:
        with self.lock:
            self.operations.append(operation)

    def acknowledged(self, kind: Kind) -> list[Operation]:
        return [op for op in self.operations if op.kind == kind and op.acknowledged]

    def in_doubt(self, kind: Kind) -> list[Operation]:
        """Sent but never acknowledged (the client gave up): applied once or not at all."""
        return [op for op in self.operations if op.kind == kind and not op.acknowledged]

    def statuses(self) -> Counter[int | None]:
        """Every attempt's status (None: no answer: a dropped connection or a timeout)."""
        return Counter(status for op in self.operations for _, status in op.attempts)

    @property
    def failed_requests(self) -> int:
        """Attempts that did not succeed: no answer, or any 5xx (a 500 is a bug)."""
        return sum(n for status, n in self.statuses().items() if status is None or status >= 500)

    @property
    def server_errors(self) -> int:
        """Answers 500: never acceptable, whatever the fault."""
        return self.statuses().get(500, 0)

    def longest_write_wait(self) -> float:
        """The longest an acknowledged write waited from its first attempt: how long the
        service refused writes as a device saw it."""
        waits = [op.acknowledged_at - op.started for op in self.operations if op.acknowledged_at]
        return max(waits, default=0.0)

    def longest_gap(self) -> float:
        """The longest time in which no write at all was acknowledged."""
        times = sorted(op.acknowledged_at for op in self.operations if op.acknowledged_at)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


@dataclass(frozen=True)
class DrillCards:
    """The drill's own cards and devices, made by prepare_drill."""

    tap_cards: list[int]
    recharge_cards: list[int]
    station_id: int
    recharge_point_id: int
    account_id: int

    @property
    def all_cards(self) -> list[int]:
        return [*self.tap_cards, *self.recharge_cards]


async def prepare_drill(database_url: str, tap_cards: int, recharge_cards: int) -> DrillCards:
    """Make the drill's cards (tap cards at the maximum balance with the ledger entry that
    explains it, empty recharge cards) and, once per database, its station, counter and
    account, through a connection to the primary (asyncpg URL, the schema owner)."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            account_id = await connection.fetchval(
                "INSERT INTO accounts (login, kind, role, secret_hash, active)"
                " VALUES ('drill', 'person', 'admin', '!', false)"
                " ON CONFLICT (login) DO UPDATE SET active = false RETURNING id"
            )
            await connection.execute(
                "INSERT INTO localities (code, name) VALUES ('11', 'Suba') ON CONFLICT DO NOTHING"
            )
            station_id = await connection.fetchval(
                "INSERT INTO stations (code, name, kind, corridor, locality_code, latitude,"
                " longitude) VALUES ('09990', 'Drill portal', 'portal', 'B', '11', 4.754,"
                " -74.046) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"
            )
            point_id = await connection.fetchval(
                "SELECT id FROM recharge_points WHERE name = 'Drill counter'"
            ) or await connection.fetchval(
                "INSERT INTO recharge_points (name, locality_code, channel)"
                " VALUES ('Drill counter', '11', 'counter') RETURNING id"
            )
            taps = await _new_cards(connection, tap_cards, OPENING_BALANCE)
            recharges = await _new_cards(connection, recharge_cards, 0)
    finally:
        await connection.close()
    return DrillCards(taps, recharges, station_id, point_id, account_id)


async def _new_cards(connection: asyncpg.Connection, count: int, balance: int) -> list[int]:
    rows = await connection.fetch(
        "INSERT INTO cards (card_number, card_type, balance)"
        " SELECT lpad((9000000000000000 + nextval('cards_id_seq'))::text, 16, '0'), 'basic', $2"
        " FROM generate_series(1, $1) RETURNING id",
        count,
        balance,
    )
    ids = sorted(row["id"] for row in rows)
    if balance:
        await connection.execute(
            "INSERT INTO ledger_entries (card_id, kind, amount, balance_after, note)"
            " SELECT id, 'adjustment', $2, $2, 'drill opening balance' FROM unnest($1::bigint[])"
            " AS id",
            ids,
            balance,
        )
    return ids


@dataclass(frozen=True)
class DrillPlan:
    """Where the drill sends what, and how patient its devices are."""

    front_url: str
    cards: DrillCards
    tap_headers: Mapping[str, str]  # a token that may tap at any validator id
    recharge_headers: Mapping[str, str]  # a recharge point's token, bound to cards' counter
    threads: int = 4
    recharge_share: float = 0.2
    request_timeout_s: float = 5.0
    give_up_after_s: float = 90.0  # a device keeps retrying one operation this long


class Drill:
    """Client threads running a DrillPlan until stopped; see the module docstring."""

    def __init__(self, plan: DrillPlan) -> None:
        self.plan = plan
        self.log = DrillLog()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.plan.threads):
            thread = threading.Thread(target=self._client, name=f"drill-{number}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> DrillLog:
        """Stop sending new operations; each client finishes (or gives up on) its last one."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.plan.give_up_after_s + self.plan.request_timeout_s + 5)
        return self.log

    def acknowledged_count(self) -> int:
        with self.log.lock:
            return sum(1 for op in self.log.operations if op.acknowledged)

    def _client(self) -> None:
        with httpx.Client(
            base_url=self.plan.front_url, timeout=self.plan.request_timeout_s
        ) as http:
            while not self._stop.is_set():
                operation = self._next_operation()
                self.log.add(operation)
                self._send(http, operation)

    def _next_operation(self) -> Operation:
        cards = self.plan.cards
        if random.random() < self.plan.recharge_share:
            card, amount = random.choice(cards.recharge_cards), random.choice(RECHARGE_AMOUNTS)
            return Operation("recharge", f"drill-{uuid.uuid4().hex}", card, amount, _now())
        return Operation("tap", str(uuid.uuid4()), random.choice(cards.tap_cards), 0, _now())

    def _send(self, http: httpx.Client, operation: Operation) -> None:
        path, body, headers = self._request(operation)
        while True:
            status, retry_after, result_id = _attempt(http, path, body, headers)
            operation.attempts.append((_now(), status))
            if status in (200, 201):
                operation.acknowledged_at, operation.result_id = _now(), result_id
                return
            gave_up = _now() - operation.started > self.plan.give_up_after_s
            if (status is not None and status not in RETRY_STATUSES) or gave_up:
                return  # refused (or a 500): not acknowledged, so in doubt for the checker
            time.sleep(min(retry_after, 1.0) if retry_after else 0.2)

    def _request(self, operation: Operation) -> tuple[str, dict[str, object], dict[str, str]]:
        cards = self.plan.cards
        if operation.kind == "tap":
            body: dict[str, object] = {
                "card_id": operation.card_id,
                "station_id": cards.station_id,
                # A validator of its own per tap: no tap is a double tap of another.
                "validator_id": f"DRILL-{operation.key[:13]}",
                "tap_id": operation.key,
            }
            return TAP_PATH, body, dict(self.plan.tap_headers)
        body = {
            "card_id": operation.card_id,
            "amount": operation.amount,
            "recharge_point_id": cards.recharge_point_id,
        }
        headers = dict(self.plan.recharge_headers) | {"Idempotency-Key": operation.key}
        return RECHARGE_PATH, body, headers


def _attempt(
    http: httpx.Client, path: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[int | None, float, int | None]:
    """(status or None when no answer came, Retry-After seconds, the answer's id)."""
    try:
        response = http.post(path, json=body, headers=headers)
    except httpx.TransportError:
        return None, 0.0, None
    retry_after = float(response.headers.get("Retry-After", "0") or 0)
    if response.status_code not in (200, 201):
        return response.status_code, retry_after, None
    answer = response.json()
    return response.status_code, 0.0, answer.get("trip_id") or answer.get("recharge_id")


def _now() -> float:
    return time.monotonic()


@contextmanager
def running(plan: DrillPlan) -> Iterator[Drill]:
    """A drill running for the block; stopped (each client's last operation settled) after."""
    drill = Drill(plan)
    drill.start()
    try:
        yield drill
    finally:
        drill.stop()
