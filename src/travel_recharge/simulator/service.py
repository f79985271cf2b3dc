"""The simulator's rules: start one run anywhere, stop it from anywhere, report it everywhere.

One Simulator per worker (app.state.simulator). It holds the runs this worker runs; what
every worker must agree on (whether a run is going, its counters) is in Redis (control.py).
A run starts only where the settings allow it (not in production unless enabled), for an
operator whose account is active, and rides only the simulator's own riders (world.py),
whose rows the clean-up deletes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from travel_recharge.accounts import service as accounts
from travel_recharge.fares import service as fares
from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database
from travel_recharge.kit.errors import AppError, Conflict, Forbidden, ServiceUnavailable
from travel_recharge.kit.logs import log_event
from travel_recharge.security.rate_limit import RateLimiter
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner
from travel_recharge.simulator import repository, world
from travel_recharge.simulator.choices import FareFacts, Riders, World, busiest_card_share
from travel_recharge.simulator.cleanup import purge
from travel_recharge.simulator.control import Control, RunRecord
from travel_recharge.simulator.devices import deactivate_devices, plan_devices, ready_devices
from travel_recharge.simulator.engine import Runner, RunSpec
from travel_recharge.simulator.schemas import (
    SimulatedDataRemoved,
    SimulationStart,
    SimulatorCounters,
    SimulatorStatus,
)

logger = logging.getLogger("travel_recharge.simulator")

# The lease's lifetime while a run is being set up (making riders and accounts) before its
# runner refreshes it every second: making a rider and funding it through the recharge path
# takes about 13 ms (measured on the 2-core VM), and only a first start makes them.
SETUP_LEASE_MS = 30_000
SETUP_LEASE_MS_PER_RIDER = 30
# POST /stop waits this long for the run to end, so its answer usually says "stopped".
STOP_WAIT_S = 3.0
STOP_POLL_S = 0.1
# On shutdown a run gets this long to finish its requests and let go of its accounts.
SHUTDOWN_WAIT_S = 8.0


class CoordinationUnavailable(ServiceUnavailable):
    code = "cache_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "the simulator coordinates workers through Redis, which is not reachable; "
            "retry when it is",
            {"Retry-After": "5"},
        )


class SimulatorDisabled(Conflict):
    code = "simulator_disabled"

    def __init__(self) -> None:
        super().__init__(
            "the traffic simulator is disabled here (TR_ENV=production); set "
            "TR_SIMULATOR_ENABLED=true to allow it"
        )


class AccountInactive(Forbidden):
    code = "account_inactive"

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} is not active; a run needs an active operator")


class Simulator:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        cache: Cache,
        signer: TokenSigner,
        limiter: RateLimiter,
    ) -> None:
        self._settings = settings
        self._database = database
        self._cache = cache
        self._signer = signer
        self._limiter = limiter
        self.control = Control(cache)
        self._runs: dict[asyncio.Task[str], Runner] = {}

    @property
    def _lease_ttl_ms(self) -> int:
        return self._settings.simulator_lease_ttl_s * 1000

    async def status(self) -> SimulatorStatus:
        try:
            return status_of(await self.control.read())
        except CacheUnavailable as exc:
            raise CoordinationUnavailable() from exc

    async def start(self, request: SimulationStart, by: Principal) -> SimulatorStatus:
        """Take the lease, prepare the run's riders and devices, and start its runner."""
        if not self._settings.simulator_allowed:
            raise SimulatorDisabled()
        self_url = self._settings.self_url
        if not self_url:
            raise ServiceUnavailable(
                "the service does not know its own URL to send simulated traffic to; "
                "set TR_SELF_URL (travel-recharge serve sets it)"
            )
        # A token outlives the deactivation of its account: ask the primary.
        async with self._database.write_sessions() as session:
            if not await accounts.is_active(session, by):
                raise AccountInactive(by.login)
        run_id = uuid.uuid4().hex[:12]
        started_at = datetime.now(UTC)
        ends_at = started_at + timedelta(minutes=request.minutes)
        record = {
            "state": "running",
            "rate": repr(request.rate),
            "minutes": repr(request.minutes),
            "started_at": started_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "started_by": by.login,
        }
        try:
            setup_ms = SETUP_LEASE_MS + SETUP_LEASE_MS_PER_RIDER * self._settings.simulator_riders
            acquired = await self.control.acquire(run_id, setup_ms, record)
        except CacheUnavailable as exc:
            raise CoordinationUnavailable() from exc
        if not acquired:
            running = await self.status()
            raise Conflict(
                f"a simulation is already running (run {running.run_id}, started by "
                f"{running.started_by}); stop it first"
            )
        runner = await self._prepare(run_id, request, ends_at, self_url, by)
        # A context of its own: the run's logs must not carry the id of the request that
        # started it.
        task = asyncio.create_task(
            runner.run(), name=f"simulator-{run_id}", context=contextvars.Context()
        )
        self._runs[task] = runner
        task.add_done_callback(self._ended)
        audit(
            "simulator.started",
            by,
            f"simulator:{run_id}",
            rate=request.rate,
            minutes=request.minutes,
        )
        return await self.status()

    async def _prepare(
        self,
        run_id: str,
        request: SimulationStart,
        ends_at: datetime,
        self_url: str,
        by: Principal,
    ) -> Runner:
        account_ids: list[int] = []
        try:
            rng = random.Random(int(run_id, 16))
            stations, routes, facts = await self._network()
            own = await world.provision(
                self._database,
                self._cache,
                self._settings.simulator_riders,
                rng,
                facts,
                datetime.now(UTC),
                account_id=by.account_id,
            )
            try:
                ridden = World.build(rng, own.cards, stations, routes, own.points)
            except ValueError as exc:
                raise Conflict(str(exc)) from exc
            plan = plan_devices(
                request.rate,
                self._limiter.limits("taps").get("principal"),
                self._limiter.limits("recharges").get("principal"),
                self._limiter.limits("recharges").get("ip"),
                # The busiest rider's taps within the double-tap window at this rate.
                request.rate * facts.double_tap_window_s * busiest_card_share(len(own.cards)),
            )
            devices = await ready_devices(self._database, self._signer, run_id, plan, own.points)
            account_ids = devices.account_ids
            fields = {
                "validators": str(devices.count(Role.validator)),
                "recharge_points": str(devices.count(Role.recharge_point)),
                "riders": str(len(own.cards)),
                "new_riders": str(own.new_riders),
            }
            await self.control.heartbeat(run_id, self._lease_ttl_ms, {}, fields)
        except BaseException as exc:
            await self._abandon(run_id, account_ids, exc)
            if isinstance(exc, CacheUnavailable):
                raise CoordinationUnavailable() from exc
            raise
        spec = RunSpec(run_id, request.rate, ends_at, self_url, self._lease_ttl_ms, by)
        # The riders meet the run's own devices only: each account acts as one device.
        ridden = replace(ridden, recharge_points=devices.recharge_point_ids)
        riders = Riders(ridden, facts, rng, plan.recharge_share, validators=devices.validator_ids)
        return Runner(spec, riders, devices, self.control, self._database, rng)

    async def _network(
        self,
    ) -> tuple[list[repository.BoardingStation], list[repository.BusRoute], FareFacts]:
        """Where riders board and the fares they know (checked before anything is made)."""
        async with self._database.read_sessions() as session:
            try:
                policy = (await fares.policy_at(session, datetime.now(UTC))).policy
            except AppError as exc:
                raise Conflict("nothing to simulate: no fare policy is in force") from exc
            stations = await repository.boarding_stations(session)
            routes = [r for r in await repository.bus_routes(session) if r.stops]
        if not (stations or routes):
            raise Conflict(
                "nothing to simulate: the database has no active stations or bus routes; "
                "seed it first (travel-recharge seed)"
            )
        facts = FareFacts(
            transfer_window_s=policy.transfer_window.total_seconds(),
            double_tap_window_s=float(self._settings.double_tap_window_s),
            recharge_min=policy.recharge_min,
            recharge_max=policy.recharge_max,
            max_balance=policy.max_balance,
        )
        return stations, routes, facts

    async def _abandon(self, run_id: str, account_ids: list[int], exc: BaseException) -> None:
        """A run that could not start: its accounts go, and the lease with a reason."""
        reason = exc.detail if isinstance(exc, AppError) else type(exc).__name__
        with contextlib.suppress(Exception):
            if account_ids:
                await deactivate_devices(self._database, account_ids)
        fields = {
            "state": "stopped",
            "ended_at": datetime.now(UTC).isoformat(),
            "end_reason": f"error: {reason}",
        }
        with contextlib.suppress(CacheUnavailable):
            await self.control.finish(run_id, {}, fields)

    def _ended(self, task: asyncio.Task[str]) -> None:
        self._runs.pop(task, None)

    async def stop(self, by: Actor) -> SimulatorStatus:
        """Ask the running run to stop and wait a moment for it; fine when none runs."""
        for runner in self._runs.values():
            # A run of this worker stops at once, even if Redis cannot carry the request.
            runner.stop("stopped")
        try:
            stopping = await self.control.request_stop()
        except CacheUnavailable as exc:
            raise CoordinationUnavailable() from exc
        audit("simulator.stopped", by, f"simulator:{stopping or 'none'}", running=bool(stopping))
        if stopping is None:
            status = await self.status()
            return status.model_copy(update={"detail": "no simulation was running"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT_S
        status = await self.status()
        while status.state != "stopped" and loop.time() < deadline:
            await asyncio.sleep(STOP_POLL_S)
            status = await self.status()
        detail = f"run {stopping} " + ("stopped" if status.state == "stopped" else "is stopping")
        return status.model_copy(update={"detail": detail})

    async def remove_data(self) -> SimulatedDataRemoved:
        """Delete every simulated row (refused while a run is going)."""
        try:
            return await purge(self._database, self._cache, self.control)
        except CacheUnavailable as exc:
            raise CoordinationUnavailable() from exc

    async def shutdown(self) -> None:
        """Stop this worker's runs cleanly (the lifespan's shutdown)."""
        if not self._runs:
            return
        tasks = list(self._runs)
        for runner in self._runs.values():
            runner.stop("shutdown")
        _, late = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task


_COUNTERS = tuple(SimulatorCounters.model_fields)


def status_of(record: RunRecord) -> SimulatorStatus:
    """The status every worker answers, from what Redis holds."""
    fields = record.fields
    if not fields.get("run_id"):
        return SimulatorStatus(state="stopped")
    if record.lease_owner == fields["run_id"]:
        asked_to_stop = record.stop_requested == fields["run_id"]
        state = "stopping" if asked_to_stop or fields.get("state") == "stopping" else "running"
    else:
        state = "stopped"
    end_reason = fields.get("end_reason")
    if state == "stopped" and end_reason is None:
        end_reason = "lease_expired"  # its runner vanished without recording an end
    values: dict[str, object] = {
        name: fields.get(name)
        for name in (
            "run_id",
            "rate",
            "minutes",
            "started_at",
            "ends_at",
            "ended_at",
            "started_by",
            "latency_p50_ms",
            "latency_p95_ms",
        )
    }
    try:
        return SimulatorStatus(
            state=state,
            end_reason=end_reason,
            validators=int(fields.get("validators", 0)),
            recharge_points=int(fields.get("recharge_points", 0)),
            riders=int(fields.get("riders", 0)),
            new_riders=int(fields.get("new_riders", 0)),
            achieved_rate=float(fields.get("achieved_rate", 0)),
            counters=SimulatorCounters(**{n: int(fields.get(n, 0)) for n in _COUNTERS}),
            **{name: value for name, value in values.items() if value is not None},
        )
    except (ValueError, ValidationError) as exc:
        # Only our own scripts write the record; a garbled one is reported, not served.
        log_event(logger, "simulator.record_unreadable", logging.WARNING, error=str(exc)[:200])
        return SimulatorStatus(state=state, run_id=fields["run_id"], end_reason=end_reason)
