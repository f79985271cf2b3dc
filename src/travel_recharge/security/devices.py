"""Device bindings: a validator or recharge point account acts only as its own device.

The binding travels in the token (tokens.Principal), so checking it costs no database round
trip on the tap path. People in other roles that may tap or recharge (admins) are not bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from travel_recharge.kit.errors import Forbidden
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal

# A validator as it names itself in its taps (validators have no table of their own); a
# validator account is bound to one.
ValidatorId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@dataclass(frozen=True)
class Binding:
    """The one device a validator or recharge point account acts as (none for people)."""

    validator_id: str | None = None
    recharge_point_id: int | None = None


UNBOUND = Binding()


class WrongDevice(Forbidden):
    """A device account named a validator or recharge point other than its own."""

    code = "wrong_device"


class DeviceUnbound(Forbidden):
    """A device token without a binding (issued before bindings existed): it may not act."""

    code = "device_unbound"


def require_own_validator(principal: Principal, validator_id: str) -> None:
    if principal.role is not Role.validator:
        return
    if principal.validator_id is None:
        raise DeviceUnbound(_unbound(principal, "validator"))
    if principal.validator_id != validator_id:
        raise WrongDevice(
            f"validator_id: this account acts as validator {principal.validator_id!r} only, "
            f"not {validator_id!r}"
        )


def require_own_recharge_point(principal: Principal, recharge_point_id: int) -> None:
    if principal.role is not Role.recharge_point:
        return
    if principal.recharge_point_id is None:
        raise DeviceUnbound(_unbound(principal, "recharge point"))
    if principal.recharge_point_id != recharge_point_id:
        raise WrongDevice(
            f"recharge_point_id: this account acts as recharge point "
            f"{principal.recharge_point_id} only, not {recharge_point_id}"
        )


def _unbound(principal: Principal, device: str) -> str:
    return (
        f"account {principal.login!r} is bound to no {device} (its token predates device "
        "bindings): the device needs a bound account, made by an admin, and a token of it"
    )
