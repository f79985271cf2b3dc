"""The run: everything the simulated users share, made once when locust starts."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from accounts import Account, AdminAuth, Token
from dataset import CardState, FareLimits, Network
from locust.exception import StopUser

CARDS_PER_DEVICE_USER = 4


@dataclass
class Run:
    """Everything the simulated users draw from, made once when locust starts."""

    run_id: str
    admin: AdminAuth
    fares: FareLimits
    network: Network
    riders: list[Account]
    analysts: list[Account]
    validators: list[Account]
    recharge_point_accounts: list[Account]
    tap_cards: deque[CardState]
    created_logins: list[str]
    # Devices hold one token per account, whichever simulated user drives them.
    device_tokens: dict[str, Token] = field(default_factory=dict)
    _turns: dict[str, Iterator[int]] = field(default_factory=dict)

    def next_account(self, pool: str, accounts: list[Account]) -> Account:
        """Accounts are handed out in turn, so users share them evenly beyond the pool."""
        turn = self._turns.setdefault(pool, itertools.count())
        return accounts[next(turn) % len(accounts)]


# Set by the locustfile's init hook; one process holds the run (see the locustfile).
_run: Run | None = None


def start_run(run: Run) -> None:
    """Hand the run made at start-up to the simulated users."""
    global _run
    _run = run


def started_run() -> Run | None:
    """The run, if the set-up made one."""
    return _run


def current_run() -> Run:
    """The run's data; a user that starts without it (the set-up failed) stops at once."""
    if _run is None:
        raise StopUser()
    return _run
