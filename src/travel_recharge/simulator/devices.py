"""The run's own device accounts (validators and points of sale) and their tokens.

Each run makes its accounts in the accounts table, like any device, so the requests it sends
are authenticated, authorized and rate limited exactly like real ones. Like any device
account, each is bound to one validator id or one point of sale, the only one its requests
may name: the run's riders are read by these validators and recharge at these points. Their
secret is one random value per run, hashed once and then forgotten: nobody can sign in as
them. Tokens are minted in-process with the app's signer instead, and the accounts are
deactivated when the run ends (its tokens then expire within their lifetime).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio

from travel_recharge.accounts import service as accounts
from travel_recharge.accounts.errors import LoginTaken
from travel_recharge.kit.audit import SystemActor
from travel_recharge.kit.db import Database
from travel_recharge.kit.errors import NotFound
from travel_recharge.kit.logs import log_event
from travel_recharge.security.devices import Binding
from travel_recharge.security.hashing import hash_secret, new_secret
from travel_recharge.security.rate_limit import Rate
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner

logger = logging.getLogger("travel_recharge.simulator")
# The simulator retires its own device accounts at the end of a run.
SIMULATOR = SystemActor(login="simulator")

# A device is given at most this share of its per-principal limit, so the run is never
# refused by its own limits, even when Poisson arrivals bunch up.
LIMIT_SHARE = 0.5
# A card read twice by one validator within the double-tap window is one tap, and each
# validator account is one validator: enough of them that a regular rider (the busiest card
# taps every few seconds in a small sample) meets a fresh one at each tap.
MIN_VALIDATORS = 32
MIN_RECHARGE_POINTS = 1
# Accounts a run may make, whatever the configured limits (each is a row and a token): with
# limits so low that more would be needed, the run's excess is refused (429) and counted.
MAX_VALIDATORS = 1_000
MAX_RECHARGE_POINTS = 250
# The share of events that are recharges (a rider tops up about once every ten taps).
RECHARGE_SHARE = 0.1


@dataclass(frozen=True)
class DevicePlan:
    validators: int
    recharge_points: int
    recharge_share: float


def _per_second(rate: Rate) -> float:
    return rate.count / rate.period_s


def plan_devices(
    rate: float,
    tap_limit: Rate | None,
    recharge_limit: Rate | None,
    recharge_ip_limit: Rate | None,
) -> DevicePlan:
    """How many devices keep each under LIMIT_SHARE of its limit at `rate` events/s.

    Every simulated request comes from one address, the service's own, so the per-address
    recharge limit caps the recharges of the whole run: past it, the recharge share shrinks.
    """
    share = RECHARGE_SHARE
    if recharge_ip_limit is not None:
        share = min(share, LIMIT_SHARE * _per_second(recharge_ip_limit) / rate)
    # A recharge event that finds a full card becomes a tap: taps may take the whole rate.
    validators = (
        math.ceil(rate / (LIMIT_SHARE * _per_second(tap_limit))) if tap_limit else MIN_VALIDATORS
    )
    points = (
        math.ceil(rate * share / (LIMIT_SHARE * _per_second(recharge_limit)))
        if recharge_limit
        else MIN_RECHARGE_POINTS
    )
    return DevicePlan(
        min(MAX_VALIDATORS, max(MIN_VALIDATORS, validators)),
        min(MAX_RECHARGE_POINTS, max(MIN_RECHARGE_POINTS, points)),
        share,
    )


def device_login(run_id: str, role: Role, number: int) -> str:
    return f"sim-{run_id}-{role.value.replace('_', '-')}-{number}"


def validator_id(run_id: str, number: int) -> str:
    """The validator the run's validator account `number` is bound to."""
    return f"SIM-{run_id}-V{number:04d}"


@dataclass
class _Device:
    principal: Principal
    headers: dict[str, str]
    renew_at: float  # monotonic seconds


class Devices:
    """Tokens of the run's validators and points of sale, renewed before they expire."""

    def __init__(self, signer: TokenSigner, principals: list[Principal]) -> None:
        self._signer = signer
        self._devices = [self._issue(p, time.monotonic()) for p in principals]
        self._validators = {
            d.principal.validator_id: d for d in self._devices if d.principal.validator_id
        }
        points: dict[int, list[_Device]] = {}
        for device in self._devices:
            if device.principal.recharge_point_id is not None:
                points.setdefault(device.principal.recharge_point_id, []).append(device)
        # Round robin among a point's devices: no device exceeds its share of its limit.
        self._points = {point: itertools.cycle(found) for point, found in points.items()}

    @property
    def logins(self) -> list[str]:
        return [d.principal.login for d in self._devices]

    @property
    def validator_ids(self) -> list[str]:
        """The validators the run's riders are read by (one account each)."""
        return list(self._validators)

    @property
    def recharge_point_ids(self) -> list[int]:
        """The points of sale the run's riders recharge at."""
        return list(self._points)

    def count(self, role: Role) -> int:
        return sum(d.principal.role is role for d in self._devices)

    def validator(self, validator_id: str) -> dict[str, str]:
        """The headers of the account bound to this validator (one of validator_ids)."""
        return self._validators[validator_id].headers

    def recharge_point(self, point_id: int) -> dict[str, str]:
        """The headers of an account bound to this point (one of recharge_point_ids)."""
        return next(self._points[point_id]).headers

    def renew(self) -> None:
        """Reissue tokens past half their lifetime (called every second by the run)."""
        now = time.monotonic()
        for device in self._devices:
            if now >= device.renew_at:
                fresh = self._issue(device.principal, now)
                # In place: the round-robin cycles hold these very objects.
                device.headers, device.renew_at = fresh.headers, fresh.renew_at

    def _issue(self, principal: Principal, now: float) -> _Device:
        issued = self._signer.issue(principal, datetime.now(UTC))
        headers = {"Authorization": f"Bearer {issued.token}"}
        return _Device(principal, headers, now + issued.expires_in / 2)


async def create_devices(
    database: Database,
    signer: TokenSigner,
    run_id: str,
    plan: DevicePlan,
    points: Sequence[int],
) -> Devices:
    """The run's accounts, made in one transaction with one secret nobody keeps; the points
    of sale are bound to `points` in turn (more devices than points share them)."""
    secret_hash = await anyio.to_thread.run_sync(hash_secret, new_secret())
    wanted = [
        (Role.validator, n, Binding(validator_id=validator_id(run_id, n)))
        for n in range(1, plan.validators + 1)
    ] + [
        (Role.recharge_point, n, Binding(recharge_point_id=points[(n - 1) % len(points)]))
        for n in range(1, plan.recharge_points + 1)
    ]
    principals: list[Principal] = []
    async with database.write_sessions() as session, session.begin():
        for role, number, binding in wanted:
            login = device_login(run_id, role, number)
            principal = await accounts.add_device(session, login, role, secret_hash, binding)
            if principal is None:
                raise LoginTaken(login)
            principals.append(principal)
    log_event(
        logger,
        "simulator.devices_created",
        run_id=run_id,
        validators=plan.validators,
        recharge_points=plan.recharge_points,
    )
    return Devices(signer, principals)


async def deactivate_devices(database: Database, logins: Sequence[str]) -> None:
    """No device of the run can get a token any more (the run's own are minted, not asked)."""
    async with database.write_sessions() as session, session.begin():
        for login in logins:
            try:
                await accounts.deactivate(session, login, actor=SIMULATOR)
            except NotFound:
                continue  # never made (the run failed while making them)
