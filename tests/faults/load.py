"""Client load for fault tests: devices tapping, recharging and reading from several
threads, retrying the way a field device must, with a log of every attempt.

A tap or recharge is one operation; each HTTP try of it is an attempt. A device retries
an operation after a 503 (waiting Retry-After), a timeout or a broken connection, with
the same tap_id or Idempotency-Key — unless it is built with new_key_on_retry, the bug a
checker must catch (each retry is then a new operation to the service). The log keeps
every attempt and every answer, so a checker (faults.checker) can compare what the
clients were told with what the database holds.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from tests.faults.polling import wait_until

OperationKind = Literal["tap", "recharge"]
# A device stops retrying an operation after this long (the checker then allows it to
# have been applied once, or not at all).
GIVE_UP_AFTER_S = 90.0
LONGEST_WAIT_S = 2.0  # a Retry-After larger than this is waited this long


@dataclass(frozen=True)
class Answer:
    """One HTTP answer (or its absence: status None) as the client saw it."""

    method: str
    path: str
    status: int | None
    retry_after: str | None = None
    error: str | None = None  # the body's "error" code, or the transport failure's kind
    body: str = ""


@dataclass
class Attempt:
    key: str  # the tap_id or Idempotency-Key sent
    answer: Answer


@dataclass
class Operation:
    op_id: int
    kind: OperationKind
    card_id: int
    amount: int | None = None  # recharges
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[str, Any] | None = None  # the 2xx answer's body

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(attempt.key for attempt in self.attempts))


class ClientLog:
    """Every operation and every answer of a run, shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: list[Operation] = []
        self._answers: list[Answer] = []

    def new_operation(self, kind: OperationKind, card_id: int, amount: int | None) -> Operation:
        with self._lock:
            operation = Operation(len(self._operations) + 1, kind, card_id, amount)
            self._operations.append(operation)
            return operation

    def record(self, answer: Answer) -> None:
        with self._lock:
            self._answers.append(answer)

    @property
    def operations(self) -> list[Operation]:
        with self._lock:
            return list(self._operations)

    @property
    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    def acknowledged(self) -> int:
        return sum(1 for operation in self.operations if operation.acknowledged is not None)

    def statuses(self) -> Counter[int | None]:
        return Counter(answer.status for answer in self.answers)


class Device:
    """One validator or point of sale: its own HTTP connection, sequential like a device."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        log: ClientLog,
        *,
        timeout_s: float = 10.0,
        new_key_on_retry: bool = False,
    ) -> None:
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)
        self.log = log
        self.new_key_on_retry = new_key_on_retry

    def close(self) -> None:
        self.client.close()

    def tap(self, card_id: int, station_id: int) -> Operation:
        operation = self.log.new_operation("tap", card_id, None)
        # One validator per tap: a retry must never look like a double tap to the service.
        body = {"card_id": card_id, "station_id": station_id, "validator_id": _validator()}

        def send(key: str) -> httpx.Response:
            return self.client.post("/api/v1/trips/start", json={**body, "tap_id": key})

        return self._until_acknowledged(operation, send, lambda: str(uuid.uuid4()))

    def recharge(self, card_id: int, amount: int, point_id: int) -> Operation:
        operation = self.log.new_operation("recharge", card_id, amount)
        body = {"card_id": card_id, "amount": amount, "recharge_point_id": point_id}

        def send(key: str) -> httpx.Response:
            return self.client.post(
                "/api/v1/cards/recharge", json=body, headers={"Idempotency-Key": key}
            )

        return self._until_acknowledged(operation, send, lambda: uuid.uuid4().hex)

    def read(self, path: str) -> Answer:
        """One read, not retried: its answer is what a rider's app would show."""
        return self._answer("GET", path, lambda: self.client.get(path))

    def _until_acknowledged(
        self,
        operation: Operation,
        send: Callable[[str], httpx.Response],
        new_key: Callable[[], str],
    ) -> Operation:
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        key = new_key()
        path = "/api/v1/trips/start" if operation.kind == "tap" else "/api/v1/cards/recharge"
        while time.monotonic() < deadline:
            answer = self._answer("POST", path, functools.partial(send, key))
            operation.attempts.append(Attempt(key, answer))
            if answer.status is not None and 200 <= answer.status < 300:
                operation.acknowledged = _json(answer.body)
                return operation
            if answer.status == 503:
                time.sleep(min(float(answer.retry_after or 1), LONGEST_WAIT_S))
            elif answer.status is None:
                time.sleep(0.2)
            else:
                return operation  # refused for good (a 4xx) or failed (a 500): no retry
            if self.new_key_on_retry:
                key = new_key()
        return operation

    def _answer(self, method: str, path: str, call: Callable[[], httpx.Response]) -> Answer:
        try:
            response: httpx.Response = call()
        except httpx.TransportError as exc:
            answer = Answer(method, path, None, error=type(exc).__name__)
        else:
            parsed = _json(response.text)
            answer = Answer(
                method,
                path,
                response.status_code,
                retry_after=response.headers.get("Retry-After"),
                error=parsed.get("error") if response.status_code >= 400 else None,
                body=response.text,
            )
        self.log.record(answer)
        return answer


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _validator() -> str:
    return f"V-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Workload:
    """What the devices of a run work on."""

    base_url: str
    headers: dict[str, str]
    cards: list[int]
    station_id: int
    point_id: int


class Load:
    """Threads of devices running until stopped: tappers, points of sale and readers."""

    def __init__(
        self,
        workload: Workload,
        log: ClientLog,
        *,
        tappers: int = 2,
        points_of_sale: int = 1,
        readers: int = 2,
        new_key_on_retry: bool = False,
    ) -> None:
        self.workload = workload
        self.log = log
        self.new_key_on_retry = new_key_on_retry
        self._stop = threading.Event()
        roles = ["tapper"] * tappers + ["point_of_sale"] * points_of_sale + ["reader"] * readers
        self._threads = [
            threading.Thread(target=self._run, args=(role, n), name=f"{role}-{n}", daemon=True)
            for n, role in enumerate(roles)
        ]
        self.crashed: list[BaseException] = []

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop starting operations; each device finishes (retries) the one it is on."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=GIVE_UP_AFTER_S + 30)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, f"devices still running after their deadline: {alive}"

    def wait_for_acknowledged(self, count: int, timeout_s: float = 60.0) -> None:
        """Poll until `count` operations were acknowledged (the service answers writes)."""

        def reached() -> bool:
            assert not self.crashed, f"a device crashed: {self.crashed!r}"
            return self.log.acknowledged() >= count

        wait_until(reached, f"{count} operations acknowledged", timeout_s)

    def _run(self, role: str, seed: int) -> None:
        rng = random.Random(seed)
        work = self.workload
        device = Device(
            work.base_url, work.headers, self.log, new_key_on_retry=self.new_key_on_retry
        )
        try:
            while not self._stop.is_set():
                card = rng.choice(work.cards)
                if role == "tapper":
                    device.tap(card, work.station_id)
                elif role == "point_of_sale":
                    device.recharge(card, rng.randrange(1_000, 5_001, 1_000), work.point_id)
                else:
                    # The balance view (cached, invalidated by every write to the card) and
                    # the ledger (never cached: always a database read).
                    device.read(f"/api/v1/cards/{card}/balance")
                    device.read(f"/api/v1/cards/{card}/ledger?limit=5")
        except BaseException as exc:  # reported by wait_for_acknowledged and the tests
            self.crashed.append(exc)
            raise
        finally:
            device.close()


@contextmanager
def running(load: Load) -> Iterator[Load]:
    """The load runs inside the block and is stopped (operations finished) at its end."""
    load.start()
    try:
        yield load
    finally:
        load.stop()
