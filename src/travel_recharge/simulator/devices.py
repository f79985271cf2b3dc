"""The simulator's device accounts (validators and points of sale) and their tokens.

The simulator's devices are accounts in the accounts table, like any device, so the requests
a run sends are authenticated, authorized and rate limited exactly like real ones. Like any
device account, each is bound to one validator id or one point of sale, the only one its
requests may name: the simulator's k-th validator account acts as validator SIM-V<k>, its
points of sale accounts as the simulator's own kiosks in turn, and a run's riders are read
by these validators and recharge at these points only. They are marked `simulated` and
reused: a start makes only the ones its plan needs beyond those it made before (so there are
never more than MAX_VALIDATORS + MAX_RECHARGE_POINTS), binds and activates the ones it uses,
and the run deactivates them when it ends (its tokens then expire within their lifetime).
Their secret is a random value hashed once and then forgotten: nobody can sign in as them.
Tokens are minted in-process with the app's signer instead.
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
from travel_recharge.kit.audit import SystemActor
from travel_recharge.kit.db import Database
from travel_recharge.kit.errors import Conflict
from travel_recharge.kit.logs import log_event
from travel_recharge.security.devices import Binding
from travel_recharge.security.hashing import hash_secret, new_secret
from travel_recharge.security.rate_limit import Rate
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner
from travel_recharge.simulator import own_repository as own

logger = logging.getLogger("travel_recharge.simulator")
# The simulator retires its own device accounts at the end of a run.
SIMULATOR = SystemActor(login="simulator")

# A device is given at most this share of its per-principal limit, so the run is never
# refused by its own limits, even when Poisson arrivals bunch up.
LIMIT_SHARE = 0.5
# A card read twice by one validator within the double-tap window is one tap, and each
# validator account is one validator: enough of them that a regular rider meets one that has
# not read it lately at each tap. At least MIN_VALIDATORS, and FRESH_MARGIN times as many as
# the busiest card taps within the window (Poisson arrivals bunch up).
MIN_VALIDATORS = 32
FRESH_MARGIN = 1.25
MIN_RECHARGE_POINTS = 1
# Accounts a run may use, whatever the configured limits (each is a row and a token): with
# limits so low that more would be needed, the run's excess is refused (429) and counted.
# They are also all the device accounts the simulator ever makes: later runs reuse them.
MAX_VALIDATORS = 1_000
MAX_RECHARGE_POINTS = 250
# Rounds of making missing accounts, each past the logins found taken in the one before.
MAKE_ATTEMPTS = 3
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
    busiest_taps_per_window: float = 0.0,
) -> DevicePlan:
    """How many devices keep each under LIMIT_SHARE of its limit at `rate` events/s, with a
    validator the busiest card has not met within the double-tap window for each of its taps
    (`busiest_taps_per_window`: how many it makes in one).

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
    validators = max(validators, math.ceil(FRESH_MARGIN * busiest_taps_per_window))
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


def device_login(role: Role, number: int) -> str:
    return f"sim-{role.value.replace('_', '-')}-{number}"


def validator_id(position: int) -> str:
    """The validator the simulator's `position`-th validator account (oldest first) acts as."""
    return f"SIM-V{position}"


def binding(role: Role, position: int, points: Sequence[int]) -> Binding:
    """What the simulator's `position`-th account of `role` acts as: a validator of its own,
    or one of the simulator's points of sale in turn (more accounts than points share them)."""
    if role is Role.validator:
        return Binding(validator_id=validator_id(position))
    return Binding(recharge_point_id=points[(position - 1) % len(points)])


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
    def account_ids(self) -> list[int]:
        return [d.principal.account_id for d in self._devices]

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
                # In place: the lookups and round-robin cycles hold these very objects.
                device.headers, device.renew_at = fresh.headers, fresh.renew_at

    def _issue(self, principal: Principal, now: float) -> _Device:
        issued = self._signer.issue(principal, datetime.now(UTC))
        headers = {"Authorization": f"Bearer {issued.token}"}
        return _Device(principal, headers, now + issued.expires_in / 2)


async def ready_devices(
    database: Database,
    signer: TokenSigner,
    run_id: str,
    plan: DevicePlan,
    points: Sequence[int],
) -> Devices:
    """The accounts the plan needs, made where missing, bound and activated, in one
    transaction; the points of sale ones are bound to `points` (the simulator's own)."""
    if not points:
        raise Conflict("the simulator has no points of sale of its own to bind its devices to")
    wanted = {Role.validator: plan.validators, Role.recharge_point: plan.recharge_points}
    principals: list[Principal] = []
    made = 0
    async with database.write_sessions() as session, session.begin():
        await own.lock_data(session)
        for role, count in wanted.items():
            found = await own.device_accounts(session, role.value)
            tried = {account.login for account in found}
            for _ in range(MAKE_ATTEMPTS):
                if len(found) >= count:
                    break
                # The next free numbers; a login some other account holds is skipped (the
                # insert leaves it out) and the next attempt goes past it.
                numbers = (n for n in itertools.count(1) if device_login(role, n) not in tried)
                logins = [
                    device_login(role, n) for n in itertools.islice(numbers, count - len(found))
                ]
                tried.update(logins)
                # Bound at birth as the positions they will take (activation below rebinds
                # if a taken login shifted them).
                new = [
                    (login, binding(role, len(found) + i, points))
                    for i, login in enumerate(logins, start=1)
                ]
                # One secret for the accounts made together, hashed once and forgotten.
                secret_hash = await anyio.to_thread.run_sync(hash_secret, new_secret())
                await own.insert_device_accounts(session, new, role.value, secret_hash)
                before, found = len(found), await own.device_accounts(session, role.value)
                made += len(found) - before
            if len(found) < count:
                raise Conflict(
                    f"the simulator cannot make its {role} accounts: their logins "
                    f"({device_login(role, 1)}, ...) are taken by accounts it did not make"
                )
            chosen = [
                (account, binding(role, position, points))
                for position, account in enumerate(found[:count], start=1)
            ]
            await own.bind_and_activate(session, chosen)
            principals += [accounts.principal_of(account) for account, _ in chosen]
    log_event(
        logger,
        "simulator.devices_ready",
        run_id=run_id,
        validators=plan.validators,
        recharge_points=plan.recharge_points,
        made=made,
    )
    return Devices(signer, principals)


async def deactivate_devices(database: Database, account_ids: Sequence[int]) -> None:
    """No device of the run can get a token any more (the run's own are minted, not asked)."""
    async with database.write_sessions() as session, session.begin():
        await own.set_accounts_active(session, account_ids, active=False)
