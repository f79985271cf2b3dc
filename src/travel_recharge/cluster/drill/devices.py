"""One device of a drill: a validator or recharge point retrying the way a field device must.

A device sends one operation at a time on its own HTTP connection. When the outcome of a
write is unknown or it was not applied — no answer (a dropped connection, a timeout), or a
502, 503 or 504 (the app's database_unavailable, or HAProxy with no node to take it) — it
waits the answer's Retry-After (capped: a device does not sleep on a server's word for long)
and sends the write again with the same tap_id or Idempotency-Key, until it is acknowledged
or the device gives up. Any other answer (a 4xx, or a 500, which is a bug) ends the
operation unacknowledged: in doubt for the checker. A plan with new_key_on_retry sends each
retry under a new key instead: the bug the checker must catch applying a write twice.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from travel_recharge.cluster.drill.cards import DrillPlan
from travel_recharge.cluster.drill.log import Answer, Attempt, DrillLog, Kind, Operation

TAP_PATH = "/api/v1/trips/start"
RECHARGE_PATH = "/api/v1/cards/recharge"
RETRY_STATUSES = frozenset({502, 503, 504})
PAUSE_S = 0.2  # before a retry that no Retry-After times (no answer, or a proxy's)
LONGEST_WAIT_S = 2.0  # a longer Retry-After is waited this long


class Device:
    """One validator or point of sale of a plan, logging every answer it gets."""

    def __init__(self, plan: DrillPlan, log: DrillLog) -> None:
        self.plan = plan
        self.log = log
        self.http = httpx.Client(base_url=plan.front_url, timeout=plan.request_timeout_s)

    def __enter__(self) -> Device:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def tap(self, card_id: int) -> Operation:
        # A validator of its own per tap: no retry may look like a double tap of another.
        body = {
            "card_id": card_id,
            "station_id": self.plan.cards.station_id,
            "validator_id": f"DRILL-{uuid.uuid4().hex[:12]}",
        }

        def send(key: str) -> httpx.Response:
            return self.http.post(
                TAP_PATH, json=body | {"tap_id": key}, headers=self.plan.tap_headers
            )

        return self._until_acknowledged("tap", card_id, 0, send, lambda: str(uuid.uuid4()))

    def recharge(self, card_id: int, amount: int) -> Operation:
        body = {
            "card_id": card_id,
            "amount": amount,
            "recharge_point_id": self.plan.cards.recharge_point_id,
        }

        def send(key: str) -> httpx.Response:
            headers = dict(self.plan.recharge_headers) | {"Idempotency-Key": key}
            return self.http.post(RECHARGE_PATH, json=body, headers=headers)

        return self._until_acknowledged(
            "recharge", card_id, amount, send, lambda: f"drill-{uuid.uuid4().hex}"
        )

    def read(self, path: str) -> Answer:
        """One read, not retried: its answer is what a rider's app would show."""
        return self._answer("GET", path, lambda: self.http.get(path, headers=self.plan.tap_headers))

    def _until_acknowledged(
        self,
        kind: Kind,
        card_id: int,
        amount: int,
        send: Callable[[str], httpx.Response],
        new_key: Callable[[], str],
    ) -> Operation:
        operation = self.log.new_operation(kind, card_id, amount, time.monotonic())
        path = TAP_PATH if kind == "tap" else RECHARGE_PATH
        key = new_key()
        while True:
            answer = self._answer("POST", path, functools.partial(send, key))
            operation.attempts.append(Attempt(key, answer, time.monotonic()))
            if answer.succeeded:
                operation.acknowledge(_json(answer.body), time.monotonic())
                return operation
            retryable = answer.status is None or answer.status in RETRY_STATUSES
            waited = time.monotonic() - operation.started
            if not retryable or waited > self.plan.give_up_after_s:
                return operation
            time.sleep(_pause(answer.retry_after))
            if self.plan.new_key_on_retry:
                key = new_key()

    def _answer(self, method: str, path: str, call: Callable[[], httpx.Response]) -> Answer:
        try:
            response = call()
        except httpx.TransportError as exc:
            answer = Answer(method, path, None, error=type(exc).__name__)
        else:
            error = _json(response.text).get("error") if response.status_code >= 400 else None
            answer = Answer(
                method,
                path,
                response.status_code,
                retry_after=response.headers.get("Retry-After"),
                error=error if isinstance(error, str) else None,
                body=response.text,
            )
        self.log.record(answer)
        return answer


def _pause(retry_after: str | None) -> float:
    try:
        asked = float(retry_after) if retry_after else PAUSE_S
    except ValueError:  # an HTTP date, or nonsense: not worth trusting
        asked = PAUSE_S
    return min(max(asked, 0.0), LONGEST_WAIT_S)


def _json(text: str) -> dict[str, Any]:
    """The body's JSON object, or {} (a proxy's HTML error page, an empty body)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
