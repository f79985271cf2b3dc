"""A rider's day: which journeys, leaving when, and the boardings they are made of.

Times are seconds after local midnight. Commuters leave around their own usual time in the
morning peak and come back in the evening peak, so the peaks emerge from the habits rather
than from a target curve; weekends bring fewer riders, later and on outings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from travel_recharge.seed import options as model
from travel_recharge.seed.riders import HABITS, Leg, Planner, Rider, pick, reverse

SERVICE_STARTS = 4 * 3600  # 04:00, first departures (network.reference.BANDS)
LAST_BOARDING = 23 * 3600 + 30 * 60  # nothing is generated past 23:30 (same local day)


@dataclass(frozen=True, slots=True)
class Boarding:
    at: int  # seconds after local midnight
    leg: Leg


def _journey(rng: random.Random, legs: tuple[Leg, ...], leave: int) -> tuple[list[Boarding], int]:
    """Boardings of one journey leaving at `leave`, and when the rider arrives."""
    boardings: list[Boarding] = []
    at = max(SERVICE_STARTS, leave) + rng.randrange(60)
    for index, leg in enumerate(legs):
        if at > LAST_BOARDING:
            break
        if index:
            at += rng.randint(120, 720)  # walking to the next stop and waiting
        boardings.append(Boarding(at, leg))
        at += leg.minutes * 60
    return boardings, at


def day_boardings(
    rider: Rider, planner: Planner, rng: random.Random, weekend: bool
) -> list[Boarding]:
    """The rider's boardings of one day, in time order (empty on a day at home)."""
    habits = HABITS[rider.persona]
    if weekend:
        if rng.random() >= habits.weekend_chance:
            return []
        away = pick(rng, model.LEISURE_WEIGHTS)
        there = planner.legs(rider.mode, rider.home, away, rider.home_station)
        out, arrived = _journey(rng, there, rng.randint(9 * 60, 15 * 60) * 60)
        back, _ = _journey(rng, reverse(there), arrived + rng.randint(90, 360) * 60)
        return out + back
    if rng.random() >= habits.weekday_chance:
        return []
    out, arrived = _journey(rng, rider.to_work, round(rng.gauss(rider.leave_home, 15)) * 60)
    if rng.random() < 0.06:  # got a lift home
        return out
    leave_work = max(round(rng.gauss(rider.leave_work, 20)) * 60, arrived + 3600)
    back, _ = _journey(rng, rider.to_home, leave_work)
    return out + back
