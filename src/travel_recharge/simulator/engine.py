"""The run: Poisson arrivals of rider events, sent to the real API over HTTP, and counted.

One asyncio task per run in the worker that started it. Each second it refreshes its lease,
adds what it counted to the run's record in Redis (control.py) and checks on the primary that
the account which started it is still active; it ends at the run's end, when asked to stop,
when it loses its lease, when that account is deactivated (its token may still be valid: a
run outlives tokens), or when the worker shuts down. Requests in flight are bounded: when the
server falls behind, events are skipped (and counted), never queued without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from travel_recharge.accounts import service as accounts
from travel_recharge.kit.cache import CacheUnavailable
from travel_recharge.kit.db import Database
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.percentiles import percentile
from travel_recharge.security.tokens import Principal
from travel_recharge.simulator.choices import Event, Recharge, Riders, Tap
from travel_recharge.simulator.control import Beat, Control
from travel_recharge.simulator.devices import Devices, deactivate_devices
from travel_recharge.simulator.world import idempotency_key

logger = logging.getLogger("travel_recharge.simulator")
# httpx logs every request at INFO: hundreds of lines a second that the server's own
# request metrics already count. The simulator is the service's only httpx user.
logging.getLogger("httpx").setLevel(logging.WARNING)

TAP_PATH = "/api/v1/trips/start"
RECHARGE_PATH = "/api/v1/cards/recharge"
TICK_S = 1.0
# A request the server has not answered in this long counts as an error (and frees its slot).
REQUEST_TIMEOUT_S = 10.0
# On shutdown, requests in flight get this long to be answered.
SHUTDOWN_DRAIN_S = 2.0
# Requests in flight: what the run's rate needs while answers take IN_FLIGHT_BUDGET_S (a
# healthy tap takes 10-40 ms), within these bounds. Past it the server is falling behind and
# events are skipped: a deeper queue only made every answer wait (measured on one worker at
# 300 events/s with a second's worth, 256, in flight: p50 1.9 s, p95 8 s, 95 events/s).
IN_FLIGHT_BUDGET_S = 0.1
MIN_IN_FLIGHT = 8
MAX_IN_FLIGHT = 64
# The latency percentiles describe the run's most recent requests.
LATENCY_WINDOW = 5_000


def in_flight_bound(rate: float) -> int:
    return max(MIN_IN_FLIGHT, min(MAX_IN_FLIGHT, math.ceil(rate * IN_FLIGHT_BUDGET_S)))


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    rate: float
    ends_at: datetime
    self_url: str
    lease_ttl_ms: int
    operator: Principal  # who started it: the run lasts only while their account is active


class Tally:
    """The run's counters: totals, and what the next heartbeat still has to add in Redis."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self._unsent: Counter[str] = Counter()
        self.latencies_s: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._started = time.monotonic()

    def add(self, name: str, amount: int = 1) -> None:
        self.totals[name] += amount
        self._unsent[name] += amount

    def take(self) -> dict[str, int]:
        """The increments not yet in Redis (given back with `give_back` if sending fails)."""
        unsent, self._unsent = dict(self._unsent), Counter()
        return unsent

    def give_back(self, increments: Mapping[str, int]) -> None:
        self._unsent.update(increments)

    def figures(self) -> dict[str, str]:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        events = self.totals["taps_sent"] + self.totals["recharges_sent"]
        figures = {"achieved_rate": f"{events / elapsed:.2f}"}
        if self.latencies_s:
            latencies = list(self.latencies_s)
            figures["latency_p50_ms"] = f"{percentile(latencies, 0.50) * 1000:.1f}"
            figures["latency_p95_ms"] = f"{percentile(latencies, 0.95) * 1000:.1f}"
        return figures


class Runner:
    def __init__(
        self,
        spec: RunSpec,
        riders: Riders,
        devices: Devices,
        control: Control,
        database: Database,
        rng: random.Random,
    ) -> None:
        self.spec = spec
        self.riders = riders
        self.devices = devices
        self.control = control
        self.database = database
        self.rng = rng
        self.tally = Tally()
        self._bound = in_flight_bound(spec.rate)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._stop_reason = "stopped"

    def stop(self, reason: str) -> None:
        """Ask the run to end at its next step (from this worker: no Redis needed)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    async def run(self) -> str:
        """Send events until the run ends; returns why it ended."""
        reason = "error"
        log_event(logger, "simulator.started", run_id=self.spec.run_id, rate=self.spec.rate)
        try:
            limits = httpx.Limits(
                max_connections=self._bound, max_keepalive_connections=self._bound
            )
            async with httpx.AsyncClient(
                base_url=self.spec.self_url, timeout=REQUEST_TIMEOUT_S, limits=limits
            ) as http:
                arrivals = asyncio.create_task(self._arrivals(http))
                try:
                    reason = await self._supervise()
                finally:
                    arrivals.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await arrivals
                    await self._drain(reason)
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as exc:
            reason = f"error: {type(exc).__name__}"
            logger.exception("simulator.failed", extra={"fields": {"run_id": self.spec.run_id}})
        finally:
            await self._finish(reason)
        return reason

    # --- the supervisor: lease, counters, stop requests, the end ------------------------------

    async def _supervise(self) -> str:
        last_beat = last_check = time.monotonic()
        while True:
            left = (self.spec.ends_at - datetime.now(UTC)).total_seconds()
            if left <= 0:
                return "finished"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=min(TICK_S, left))
            if self._stop.is_set():
                return self._stop_reason
            self.devices.renew()
            beat = await self._beat()
            now = time.monotonic()
            if beat is None:
                # Redis did not answer: past the lease's lifetime another worker may start a
                # run, so this one ends first.
                if now - last_beat >= self.spec.lease_ttl_ms / 1000 - TICK_S:
                    return "lease_lost"
                continue
            last_beat = now
            if beat is Beat.LOST:
                return "lease_lost"
            if beat is Beat.STOP:
                return "stopped"
            active = await self._operator_active()
            if active is False:
                return "operator_deactivated"
            if active:
                last_check = now
            elif now - last_check >= self.spec.lease_ttl_ms / 1000:
                # Unconfirmed for as long as a lease lasts: the run does not go on unchecked.
                return "operator_unverified"

    async def _operator_active(self) -> bool | None:
        """Whether the operator's account is active, read on the primary (None: unknown)."""
        try:
            async with self.database.write_sessions() as session:
                return await accounts.is_active(session, self.spec.operator)
        except Exception as exc:  # the database may be down for a moment: ask next second
            log_event(
                logger, "simulator.operator_check_failed", logging.WARNING, error=type(exc).__name__
            )
            return None

    async def _beat(self, **fields: str) -> Beat | None:
        increments = self.tally.take()
        try:
            return await self.control.heartbeat(
                self.spec.run_id,
                self.spec.lease_ttl_ms,
                increments,
                self.tally.figures() | fields,
            )
        except CacheUnavailable:
            self.tally.give_back(increments)
            return None

    # --- arrivals ----------------------------------------------------------------------------

    async def _arrivals(self, http: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            # Poisson arrivals: exponential gaps, on an absolute schedule (no drift).
            due += self.rng.expovariate(self.spec.rate)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(self._in_flight) >= self._bound:
                self.tally.add("skipped")
                continue
            task = asyncio.create_task(self._send(http, self.riders.next_event(loop.time())))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send(self, http: httpx.AsyncClient, event: Event) -> None:
        if isinstance(event, Tap):
            await self._tap(http, event)
        else:
            await self._recharge(http, event)

    async def _post(
        self, http: httpx.AsyncClient, path: str, body: dict[str, object], headers: dict[str, str]
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await http.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.tally.add("errors")
            log_event(logger, "simulator.request_failed", logging.DEBUG, error=type(exc).__name__)
            return None
        self.tally.latencies_s.append(time.perf_counter() - started)
        return response

    async def _tap(self, http: httpx.AsyncClient, tap: Tap) -> None:
        body: dict[str, object] = {
            "card_id": tap.card_id,
            "validator_id": tap.validator_id,
            "tap_id": str(uuid.uuid4()),
        }
        if tap.station_id is not None:
            body["station_id"] = tap.station_id
        if tap.route_code is not None:
            body["route_code"] = tap.route_code
        self.tally.add("taps_sent")
        headers = self.devices.validator(tap.validator_id)
        response = await self._post(http, TAP_PATH, body, headers)
        if response is None:
            return
        if response.status_code == 201:
            answer = response.json()
            self.tally.add("taps_charged")
            self.tally.add("transfers", int(bool(answer["is_transfer"])))
            self.tally.add("credit_trips", int(bool(answer["credit_used"])))
            self.riders.charged(tap.card_id, int(answer["balance_after"]))
        elif response.status_code == 200:
            self.tally.add("taps_duplicate")
        elif response.status_code == 402:
            self.tally.add("taps_refused_no_balance")
            self.riders.refused(tap.card_id)
        else:
            self.tally.add("errors")

    async def _recharge(self, http: httpx.AsyncClient, recharge: Recharge) -> None:
        body: dict[str, object] = {
            "card_id": recharge.card_id,
            "amount": recharge.amount,
            "recharge_point_id": recharge.recharge_point_id,
        }
        headers = self.devices.recharge_point(recharge.recharge_point_id)
        headers = headers | {"Idempotency-Key": idempotency_key()}
        self.tally.add("recharges_sent")
        response = await self._post(http, RECHARGE_PATH, body, headers)
        if response is None:
            return
        if response.status_code == 201:
            answer = response.json()
            self.tally.add("recharges")
            self.tally.add("recharged_amount", int(answer["amount"]))
            self.riders.recharged(recharge.card_id, int(answer["new_balance"]))
        else:
            self.tally.add("errors")

    # --- the end -----------------------------------------------------------------------------

    async def _drain(self, reason: str) -> None:
        """Let the requests in flight finish, so the counters match what the server did."""
        await self._beat(state="stopping")
        if not self._in_flight:
            return
        # A worker shutting down has stopped accepting: a request waiting in the listen
        # queue of a socket it shares with its siblings may never be answered.
        timeout = SHUTDOWN_DRAIN_S if reason == "shutdown" else REQUEST_TIMEOUT_S + 1
        _, late = await asyncio.wait(set(self._in_flight), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            self.tally.add("errors", len(late))  # sent, but what became of them is unknown

    async def _finish(self, reason: str) -> None:
        # Devices first: once the record says stopped, none of the run's accounts is active.
        try:
            await deactivate_devices(self.database, self.devices.account_ids)
        except Exception:
            logger.exception(
                "simulator.deactivate_failed", extra={"fields": {"run_id": self.spec.run_id}}
            )
        fields = self.tally.figures() | {
            "state": "stopped",
            "ended_at": datetime.now(UTC).isoformat(),
            "end_reason": reason,
        }
        # Without Redis the lease lapses by itself; the record keeps the last beat's counters.
        with contextlib.suppress(CacheUnavailable):
            await self.control.finish(self.spec.run_id, self.tally.take(), fields)
        log_event(
            logger,
            "simulator.ended",
            run_id=self.spec.run_id,
            reason=reason,
            **{name: self.tally.totals[name] for name in ("taps_charged", "recharges", "errors")},
        )
