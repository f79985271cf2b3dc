"""A drill's fleet: device threads tapping, recharging and reading until told to stop.

Tappers tap the plan's tap cards, points of sale recharge its recharge cards, readers read
the balance (cached, invalidated by every write to the card) and the ledger (never cached:
always a database read) of any of them. Stopping lets each device finish — or give up on —
the operation it is on, so that the log holds no write still under way when it is checked.
Waits are on counts of acknowledged writes, not on time: a slow machine only makes a drill
longer.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from travel_recharge.cluster.drill.cards import RECHARGE_AMOUNTS, DrillPlan
from travel_recharge.cluster.drill.devices import Device
from travel_recharge.cluster.drill.log import DrillLog
from travel_recharge.cluster.waiting import wait_until


class DeviceCrashed(RuntimeError):
    """A device thread died of an exception: the drill no longer does what it says."""


class Drill:
    """The fleet of a DrillPlan; see the module docstring."""

    def __init__(self, plan: DrillPlan, log: DrillLog | None = None) -> None:
        self.plan = plan
        self.log = log if log is not None else DrillLog()
        self.crashed: list[BaseException] = []
        self._stop = threading.Event()
        roles = (
            ["tapper"] * plan.tappers
            + ["point_of_sale"] * plan.points_of_sale
            + ["reader"] * plan.readers
        )
        self._threads = [
            threading.Thread(
                target=self._run, args=(role, n), name=f"drill-{role}-{n}", daemon=True
            )
            for n, role in enumerate(roles)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> DrillLog:
        """Stop starting operations; each device finishes (or gives up on) the one it is on."""
        self._stop.set()
        patience = self.plan.give_up_after_s + self.plan.request_timeout_s + 30
        for thread in self._threads:
            thread.join(patience)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            raise RuntimeError(f"devices still running after their deadline: {alive}")
        return self.log

    def acknowledged_count(self) -> int:
        return len(self.log.acknowledged())

    def wait_for_acknowledged(self, more: int, timeout_s: float = 120.0) -> None:
        """Until `more` writes beyond those acknowledged now are acknowledged: the service
        takes writes (again)."""
        target = self.acknowledged_count() + more

        def reached() -> bool:
            if self.crashed:
                raise DeviceCrashed(f"a device crashed: {self.crashed!r}")
            return self.acknowledged_count() >= target

        wait_until(f"{more} more acknowledged writes", timeout_s, reached)

    def _run(self, role: str, seed: int) -> None:
        # Seeded by the device's number: the same drill chooses the same way each run.
        rng = random.Random(seed)
        cards = self.plan.cards
        try:
            with Device(self.plan, self.log) as device:
                while not self._stop.is_set():
                    if role == "tapper":
                        device.tap(rng.choice(cards.tap_cards))
                    elif role == "point_of_sale":
                        device.recharge(
                            rng.choice(cards.recharge_cards), rng.choice(RECHARGE_AMOUNTS)
                        )
                    else:
                        card = rng.choice(cards.all_cards)
                        device.read(f"/api/v1/cards/{card}/balance")
                        device.read(f"/api/v1/cards/{card}/ledger?limit=5")
        except BaseException as exc:  # reported by wait_for_acknowledged
            self.crashed.append(exc)
            raise


@contextmanager
def running(plan: DrillPlan, log: DrillLog | None = None) -> Iterator[Drill]:
    """A drill running for the block; stopped (each device's last operation settled) after."""
    drill = Drill(plan, log)
    drill.start()
    try:
        yield drill
    finally:
        drill.stop()
