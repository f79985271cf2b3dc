"""Token and account requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from travel_recharge.kit.ids import MAX_ID, MAX_INT_ID
from travel_recharge.kit.pagination import PageInfo
from travel_recharge.security.devices import ValidatorId
from travel_recharge.security.roles import DEVICE_ROLES, Role

LOGIN_PATTERN = r"^[A-Za-z0-9._@-]{3,64}$"
Login = Annotated[str, Path(pattern=LOGIN_PATTERN, description="username or client_id")]
AccountKind = Literal["person", "client"]


class TokenOut(BaseModel):
    """RFC 6749 §5.1 access token answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="seconds the token stays valid")
    scope: str = Field(description="the role the token carries")


class PrincipalOut(BaseModel):
    account_id: int
    login: str
    role: Role
    user_id: int | None = Field(description="the rider, for rider accounts")
    validator_id: str | None = Field(description="the validator a validator account acts as")
    recharge_point_id: int | None = Field(
        description="the recharge point a recharge point account acts as"
    )
    card_ids: list[int] = Field(description="cards a rider owns (or owned); empty for staff")


# The field binding each role to its one rider or device: required for it, null for the rest.
BINDINGS = {
    Role.rider: "user_id",
    Role.validator: "validator_id",
    Role.recharge_point: "recharge_point_id",
}


def _one_branch_per_role() -> list[JsonValue]:
    """`_consistent`'s rules, stated in the document (one branch of a oneOf per role)."""
    branches: list[JsonValue] = []
    for role in Role:
        own = BINDINGS.get(role)
        properties: dict[str, JsonValue] = {"role": {"const": role.value}}
        properties |= {field: {"type": "null"} for field in BINDINGS.values() if field != own}
        if own is not None:
            properties[own] = {"not": {"type": "null"}}
        if role is Role.rider:
            properties["kind"] = {"enum": ["person", None]}
        branch: dict[str, JsonValue] = {"properties": properties}
        if own is not None:
            branch["required"] = [own]
        branches.append(branch)
    return branches


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": _one_branch_per_role()})

    login: str = Field(pattern=LOGIN_PATTERN, description="username or client_id")
    role: Role
    kind: AccountKind | None = Field(
        default=None,
        description="person (password grant) or client (client credentials); default: "
        "client for validators and recharge points, person otherwise",
    )
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the rider; required for riders only"
    )
    validator_id: ValidatorId | None = Field(
        default=None,
        description="the one validator whose taps the account may send; required for "
        "validators only",
    )
    recharge_point_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_INT_ID,
        description="the one recharge point the account recharges at; required for recharge "
        "points only",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.role is Role.rider) != (self.user_id is not None):
            raise ValueError("user_id: required for the rider role and only for it")
        if (self.role is Role.validator) != (self.validator_id is not None):
            raise ValueError("validator_id: required for the validator role and only for it")
        if (self.role is Role.recharge_point) != (self.recharge_point_id is not None):
            raise ValueError(
                "recharge_point_id: required for the recharge_point role and only for it"
            )
        if self.role is Role.rider and self.kind == "client":
            raise ValueError("kind: a rider account is a person")
        return self

    @property
    def account_kind(self) -> AccountKind:
        if self.kind is not None:
            return self.kind
        return "client" if self.role in DEVICE_ROLES else "person"


class AccountOut(BaseModel):
    account_id: int
    login: str
    role: Role
    kind: AccountKind
    user_id: int | None
    validator_id: str | None = Field(description="the validator a validator account acts as")
    recharge_point_id: int | None = Field(
        description="the recharge point a recharge point account acts as"
    )
    active: bool = Field(description="inactive accounts get no new tokens")
    demo: bool = Field(description="made by demo mode")
    created_at: datetime


class AccountCreated(AccountOut):
    secret: str = Field(description="the password or client secret; shown only this once")


class AccountsPage(BaseModel):
    accounts: list[AccountOut]
    page: PageInfo
