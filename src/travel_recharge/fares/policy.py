"""Fare policies: every fare rule of the city as versioned data, never as literals in code.

A policy is in force from its `effective_from` until the next one starts, so next year's decree
is a new entry in the data, not a release.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.resources import files
from itertools import pairwise
from types import MappingProxyType
from typing import TypeAlias, TypeVar

Json: TypeAlias = "str | int | list[Json] | dict[str, Json] | None"

SHIPPED_POLICIES_FILE = "fare_policies.json"

# The ISO 4217 currency of every amount in a policy, and its minor unit: Colombian pesos have
# none, so a policy's integers are whole pesos and exports write them without decimals.
CURRENCY = "COP"
CURRENCY_DECIMALS = 0

# Amounts in pesos and counts: the scalar fields a policy dict carries as plain integers.
_WHOLE_NUMBER_FIELDS = (
    "max_transfers",
    "credit_trips",
    "card_price",
    "recharge_min",
    "recharge_max",
    "web_recharge_min",
    "web_recharge_max",
    "max_balance",
)


class ServiceKind(StrEnum):
    """How a boarding is priced; TransMiCable pays the trunk fare but keeps its own kind."""

    TRUNK = "trunk"
    CABLE = "cable"
    ZONAL = "zonal"  # urbano, complementario and especial routes
    FEEDER = "feeder"  # alimentador


# How a boarding at a station is priced when no route is given (a validator at the station's
# gate): portals and trunk stations are trunk, TransMiCable is cable, a zonal stop is zonal.
STATION_SERVICE: Mapping[str, ServiceKind] = MappingProxyType(
    {
        "portal": ServiceKind.TRUNK,
        "trunk": ServiceKind.TRUNK,
        "cable": ServiceKind.CABLE,
        "zonal": ServiceKind.ZONAL,
    }
)


class CardType(StrEnum):
    BASIC = "basic"
    PERSONALIZED = "personalized"


class RechargeChannel(StrEnum):
    POS = "pos"  # point of sale, posted at once
    WEB = "web"  # two-phase: posted when the card is next read at a station


class BenefitKind(StrEnum):
    FREE_TRIPS = "free_trips"
    REDUCED_FARE = "reduced_fare"


@dataclass(frozen=True)
class ProfileBenefit:
    """A rider profile's monthly concession; `trips_per_month` None means unlimited."""

    profile: str
    kind: BenefitKind
    trips_per_month: int | None
    reduced_fare: int | None = None

    def __post_init__(self) -> None:
        where = f"profile_benefits.{self.profile}"
        if self.trips_per_month is not None and self.trips_per_month < 0:
            raise ValueError(f"fare policy field {where}.trips_per_month must be >= 0 or null")
        if self.kind is BenefitKind.REDUCED_FARE and (
            self.reduced_fare is None or self.reduced_fare < 0
        ):
            raise ValueError(f"fare policy field {where}.reduced_fare must be an amount >= 0")
        if self.kind is BenefitKind.FREE_TRIPS and self.reduced_fare is not None:
            raise ValueError(f"fare policy field {where}.reduced_fare must be null for free trips")

    def has_trips_left(self, used_this_month: int) -> bool:
        return self.trips_per_month is None or used_this_month < self.trips_per_month


@dataclass(frozen=True)
class FarePolicy:
    """One version of the city's fare rules; amounts are whole pesos."""

    effective_from: datetime
    base_fares: Mapping[ServiceKind, int]
    transfer_window: timedelta
    max_transfers: int
    transfer_costs: Mapping[tuple[ServiceKind, ServiceKind], int]
    credit_trips: int
    card_price: int
    recharge_min: int
    recharge_max: int
    web_recharge_min: int
    web_recharge_max: int
    max_balance: int
    profile_benefits: Mapping[str, ProfileBenefit]
    name: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None:
            raise ValueError("fare policy field 'effective_from' must carry a UTC offset")
        if self.transfer_window <= timedelta(0):
            raise ValueError("fare policy field 'transfer_window_seconds' must be > 0")
        missing = [kind.value for kind in ServiceKind if kind not in self.base_fares]
        if missing:
            raise ValueError(f"fare policy field 'base_fares' lacks {', '.join(missing)}")
        amounts: list[tuple[str, int]] = [(f, getattr(self, f)) for f in _WHOLE_NUMBER_FIELDS]
        amounts += [(f"base_fares.{k}", v) for k, v in self.base_fares.items()]
        amounts += [(f"transfer_costs.{a}->{b}", v) for (a, b), v in self.transfer_costs.items()]
        for field_name, value in amounts:
            if value < 0:
                raise ValueError(f"fare policy field {field_name!r} must be >= 0, got {value}")
        for channel in RechargeChannel:
            low, high = self.recharge_limits(channel)
            if low > high:
                raise ValueError(f"fare policy {channel} recharge minimum exceeds its maximum")

    def full_fare(self, kind: ServiceKind) -> int:
        return self.base_fares[kind]

    def highest_full_fare(self) -> int:
        return max(self.base_fares.values())

    def transfer_cost(self, from_kind: ServiceKind, to_kind: ServiceKind) -> int:
        return self.transfer_costs.get((from_kind, to_kind), 0)

    def recharge_limits(self, channel: RechargeChannel) -> tuple[int, int]:
        if channel == RechargeChannel.WEB:
            return self.web_recharge_min, self.web_recharge_max
        return self.recharge_min, self.recharge_max


_REQUIRED_FIELDS = frozenset(
    {"effective_from", "base_fares", "transfer_window_seconds", "transfer_costs"}
    | {"profile_benefits", *_WHOLE_NUMBER_FIELDS}
)
_OPTIONAL_FIELDS = frozenset({"name", "note"})

_E = TypeVar("_E", bound=StrEnum)


def _int(value: object, field: str) -> int:
    # bool is an int subclass and JSON floats like 2950.0 hide rounding: both are data errors.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"fare policy field {field!r} must be an integer, got {value!r}")
    return value


def _optional_int(value: object, field: str) -> int | None:
    return None if value is None else _int(value, field)


def _str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"fare policy field {field!r} must be a string, got {value!r}")
    return value


def _member(enum: type[_E], value: object, field: str) -> _E:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass  # fall through to the error that lists the allowed values
    allowed = ", ".join(member.value for member in enum)
    raise ValueError(f"fare policy field {field!r} must be one of {allowed}, got {value!r}")


def _object(value: object, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"fare policy field {field!r} must be an object")
    return value


def _datetime(value: object, field: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(_str(value, field))
    except ValueError as error:
        raise ValueError(f"fare policy field {field!r} must be an ISO 8601 datetime") from error


def _transfer_costs(value: object) -> dict[tuple[ServiceKind, ServiceKind], int]:
    if not isinstance(value, list):
        raise ValueError("fare policy field 'transfer_costs' must be a list")
    costs: dict[tuple[ServiceKind, ServiceKind], int] = {}
    for index, item in enumerate(value):
        where = f"transfer_costs[{index}]"
        entry = _object(item, where)
        from_kind = _member(ServiceKind, entry.get("from"), f"{where}.from")
        pair = (from_kind, _member(ServiceKind, entry.get("to"), f"{where}.to"))
        if pair in costs:
            raise ValueError(f"fare policy field {where!r} repeats {pair[0]}->{pair[1]}")
        costs[pair] = _int(entry.get("amount"), f"{where}.amount")
    return costs


def _benefit(profile: str, value: object) -> ProfileBenefit:
    where = f"profile_benefits.{profile}"
    entry = _object(value, where)
    return ProfileBenefit(
        profile=profile,
        kind=_member(BenefitKind, entry.get("kind"), f"{where}.kind"),
        trips_per_month=_optional_int(entry.get("trips_per_month"), f"{where}.trips_per_month"),
        reduced_fare=_optional_int(entry.get("reduced_fare"), f"{where}.reduced_fare"),
    )


def policy_from_dict(data: Mapping[str, object]) -> FarePolicy:
    """Build a validated policy from its JSON shape; a ValueError names the offending field."""
    unknown = sorted(set(data) - _REQUIRED_FIELDS - _OPTIONAL_FIELDS)
    missing = sorted(_REQUIRED_FIELDS - set(data))
    if unknown or missing:
        raise ValueError(f"fare policy fields: unknown {unknown}, missing {missing}")

    def whole(field: str) -> int:
        return _int(data[field], field)

    fares = _object(data["base_fares"], "base_fares")
    benefits = _object(data["profile_benefits"], "profile_benefits")
    return FarePolicy(
        effective_from=_datetime(data["effective_from"], "effective_from"),
        base_fares=MappingProxyType(
            {
                _member(ServiceKind, kind, "base_fares"): _int(fare, f"base_fares.{kind}")
                for kind, fare in fares.items()
            }
        ),
        transfer_window=timedelta(
            seconds=_int(data["transfer_window_seconds"], "transfer_window_seconds")
        ),
        transfer_costs=MappingProxyType(_transfer_costs(data["transfer_costs"])),
        profile_benefits=MappingProxyType(
            {profile: _benefit(profile, value) for profile, value in benefits.items()}
        ),
        name=_str(data.get("name", ""), "name"),
        note=_str(data.get("note", ""), "note"),
        max_transfers=whole("max_transfers"),
        credit_trips=whole("credit_trips"),
        card_price=whole("card_price"),
        recharge_min=whole("recharge_min"),
        recharge_max=whole("recharge_max"),
        web_recharge_min=whole("web_recharge_min"),
        web_recharge_max=whole("web_recharge_max"),
        max_balance=whole("max_balance"),
    )


def policy_to_dict(policy: FarePolicy) -> dict[str, Json]:
    """The JSON shape `policy_from_dict` reads, so a policy round-trips through an API or a row."""
    document: dict[str, Json] = {
        "effective_from": policy.effective_from.isoformat(),
        "name": policy.name,
        "note": policy.note,
        "base_fares": {kind.value: fare for kind, fare in policy.base_fares.items()},
        "transfer_window_seconds": int(policy.transfer_window.total_seconds()),
        "transfer_costs": [
            {"from": a.value, "to": b.value, "amount": cost}
            for (a, b), cost in policy.transfer_costs.items()
        ],
        "profile_benefits": {
            profile: {
                "kind": benefit.kind.value,
                "trips_per_month": benefit.trips_per_month,
                "reduced_fare": benefit.reduced_fare,
            }
            for profile, benefit in policy.profile_benefits.items()
        },
    }
    document.update({field: getattr(policy, field) for field in _WHOLE_NUMBER_FIELDS})
    return document


def policies_from_dicts(items: Iterable[Mapping[str, object]]) -> list[FarePolicy]:
    """Validated policies sorted by start; two policies starting together would be ambiguous."""
    policies = sorted((policy_from_dict(item) for item in items), key=lambda p: p.effective_from)
    for earlier, later in pairwise(policies):
        if earlier.effective_from == later.effective_from:
            raise ValueError(f"two fare policies start at {later.effective_from.isoformat()}")
    return policies


def load_shipped_policies() -> list[FarePolicy]:
    """The city's fare policy history shipped in the package data, oldest first."""
    text = files("travel_recharge").joinpath("data", SHIPPED_POLICIES_FILE).read_text("utf-8")
    document = _object(json.loads(text), SHIPPED_POLICIES_FILE)
    items = document.get("policies")
    if not isinstance(items, list):
        raise ValueError(f"{SHIPPED_POLICIES_FILE} must hold a 'policies' list")
    return policies_from_dicts(_object(item, "policies[]") for item in items)


def policy_in_force(policies: Iterable[FarePolicy], at: datetime) -> FarePolicy:
    """The policy with the latest start at or before `at` (a tap's event time, not the clock)."""
    if at.tzinfo is None:
        raise ValueError("policy_in_force needs a timezone-aware datetime")
    started = [policy for policy in policies if policy.effective_from <= at]
    if not started:
        raise ValueError(f"no fare policy is in force at {at.isoformat()}")
    return max(started, key=lambda policy: policy.effective_from)
