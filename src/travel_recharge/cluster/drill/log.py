"""The clients' word: every operation of a drill, each attempt of it and every answer.

A tap or recharge is one operation; each HTTP try of it is an attempt, with the key it
sent (tap_id or Idempotency-Key). The log keeps what the devices were told — the status,
Retry-After, the error code and the body of every answer, the trip_id or recharge_id of
each acknowledgement — so that the checker can hold the database and the answers to it,
and the fault tests can tell how long the service refused writes. Device threads append to
it while the test reads it, so it takes a lock and hands out copies of its lists.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["tap", "recharge"]
# The field of an acknowledgement that names the row the service wrote.
TOLD_FIELD: dict[Kind, str] = {"tap": "trip_id", "recharge": "recharge_id"}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the client saw it (status None: none came — a dropped connection
    or a timeout, after which the outcome of a write is unknown)."""

    method: str
    path: str
    status: int | None
    retry_after: str | None = None
    error: str | None = None  # the body's "error" code, or the transport failure's kind
    body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Attempt:
    key: str  # the tap_id or Idempotency-Key this attempt sent
    answer: Answer
    at: float  # time.monotonic() when the answer (or its absence) came


@dataclass
class Operation:
    """One tap or recharge as its device saw it: every attempt, and the acknowledgement."""

    op_id: int
    kind: Kind
    card_id: int
    amount: int  # the recharge's pesos (0 for a tap)
    started: float  # time.monotonic()
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged_at: float | None = None
    told_id: int | None = None  # the trip_id or recharge_id the acknowledgement named

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1

    @property
    def keys(self) -> list[str]:
        """Every key sent, in order: one, unless the device changed it on a retry."""
        return list(dict.fromkeys(attempt.key for attempt in self.attempts))

    def acknowledge(self, body: Mapping[str, object], at: float) -> None:
        told = body.get(TOLD_FIELD[self.kind])
        self.told_id = told if isinstance(told, int) else None
        self.acknowledged_at = at


class DrillLog:
    """Every operation and every answer of a drill, shared by its device threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: list[Operation] = []
        self._answers: list[Answer] = []

    def new_operation(self, kind: Kind, card_id: int, amount: int, started: float) -> Operation:
        with self._lock:
            operation = Operation(len(self._operations) + 1, kind, card_id, amount, started)
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

    def acknowledged(self, kind: Kind | None = None) -> list[Operation]:
        return [op for op in self.operations if op.acknowledged and kind in (None, op.kind)]

    def in_doubt(self, kind: Kind | None = None) -> list[Operation]:
        """Sent but never acknowledged (the device gave up): applied once or not at all."""
        return [op for op in self.operations if not op.acknowledged and kind in (None, op.kind)]

    def statuses(self) -> Counter[int | None]:
        """Every answer's status, reads included (None: no answer came)."""
        return Counter(answer.status for answer in self.answers)

    @property
    def failed_requests(self) -> int:
        """Requests that did not succeed: no answer, or any 5xx (a 500 is a bug)."""
        return sum(n for status, n in self.statuses().items() if status is None or status >= 500)

    @property
    def server_errors(self) -> int:
        """Answers 500: never acceptable, whatever the fault."""
        return self.statuses().get(500, 0)

    def acknowledged_between(self, start: float, end: float) -> int:
        """Writes acknowledged within [start, end] (time.monotonic())."""
        return sum(
            1
            for op in self.operations
            if op.acknowledged_at is not None and start <= op.acknowledged_at <= end
        )

    def longest_write_wait(self) -> float:
        """The longest an acknowledged write waited from its first attempt: how long the
        service refused writes as a device saw it."""
        waits = [op.acknowledged_at - op.started for op in self.operations if op.acknowledged_at]
        return max(waits, default=0.0)

    def longest_gap(self) -> float:
        """The longest time in which no write at all was acknowledged."""
        times = sorted(op.acknowledged_at for op in self.operations if op.acknowledged_at)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)
