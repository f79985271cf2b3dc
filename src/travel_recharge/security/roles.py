"""The roles a token can carry and what each is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    rider = "rider"  # reads and blocks only the cards they own
    validator = "validator"  # a device at a station or on a bus: taps
    recharge_point = "recharge_point"  # a ticket office or shop: issues and recharges cards
    analyst = "analyst"  # analytics, finance and user counts
    operator = "operator"  # alerts, riders, card service (block, unblock, replace)
    admin = "admin"  # everything, including cache administration and ledger verification


# Devices authenticate with client credentials; riders are always people.
DEVICE_ROLES = frozenset({Role.validator, Role.recharge_point})
