"""Business counters, recorded by after-commit hooks: only what PostgreSQL kept is counted.

A rolled-back tap, a replayed tap_id, a double tap or an idempotent recharge replay registers
no hook (or its transaction never commits), so it never counts twice.
"""

from __future__ import annotations

from travel_recharge.kit.db import AfterCommit
from travel_recharge.kit.metrics import (
    CREDIT_TRIPS,
    FARES_CHARGED,
    RECHARGED,
    RECHARGES,
    TAPS,
    TRANSFERS,
    Children,
)

_taps = Children(TAPS)
_fares = Children(FARES_CHARGED)
_transfers = Children(TRANSFERS)
_credit_trips = Children(CREDIT_TRIPS)
_recharges = Children(RECHARGES)
_recharged = Children(RECHARGED)


def tap_committed(
    service_kind: str, fare_kind: str, fare_charged: int, *, is_transfer: bool, credit_used: bool
) -> AfterCommit:
    """The hook counting one priced tap; register it on the tap's transaction."""
    kinds = (service_kind, fare_kind)

    async def record() -> None:
        _taps[kinds].inc()
        if fare_charged:
            _fares[kinds].inc(fare_charged)
        if is_transfer:
            _transfers[service_kind].inc()
        if credit_used:
            _credit_trips[service_kind].inc()

    return record


def recharge_committed(channel: str, amount: int) -> AfterCommit:
    """The hook counting one recharge of `amount` pesos; register it on its transaction."""

    async def record() -> None:
        _recharges[channel].inc()
        _recharged[channel].inc(amount)

    return record
