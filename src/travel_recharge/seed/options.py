"""What the ridership generator is asked for, and the shape of the city it imitates.

The counts and dates are options; the shares and weights below are the generator's model of
Bogotá's riders (rounded public figures), kept here so they are read and changed in one place.
Fares, transfer windows, credit and recharge limits are never here: the generator reads them
from the fare policies stored in the database, like the live service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

# `make run` seeds this much the first time: a few seconds of work, a lively dashboard, and
# eight weeks, so that the revenue forecast (seven weeks at least) and station performance
# (the same weekday of earlier weeks) have a history to show.
DEMO_USERS = 1000
DEMO_DAYS = 56
DEFAULT_RANDOM_SEED = 42
DEFAULT_BASIC_SHARE = 0.35  # share of the cards that are basic (anonymous)

# Cards per generator task: big enough to amortise inter-process traffic, small enough that
# the loader has work to stream while the workers generate the next ones.
CHUNK_CARDS = 1000


@dataclass(frozen=True)
class SeedOptions:
    users: int
    days: int
    random_seed: int
    until: date  # exclusive: the data covers the `days` local days before it
    timezone: str = "America/Bogota"  # the city's calendar (Settings.timezone)
    basic_share: float = DEFAULT_BASIC_SHARE
    workers: int = 1
    chunk_cards: int = CHUNK_CARDS

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("users must be at least 1")
        if not 1 <= self.days <= 3660:
            raise ValueError("days must be between 1 and 3660")
        if self.random_seed < 0:
            raise ValueError("random_seed must not be negative")
        if not 0 <= self.basic_share < 1:
            raise ValueError("basic_share must be at least 0 and below 1")
        if self.workers < 1 or self.chunk_cards < 1:
            raise ValueError("workers and chunk_cards must be at least 1")

    @property
    def cards(self) -> int:
        """Every user has one personalized card; basic cards come on top, by `basic_share`."""
        return self.users + round(self.users * self.basic_share / (1 - self.basic_share))


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


# Where riders live: localities 01-19 by population (2018 census, thousands). Sumapaz (20)
# is rural and has no SITP service.
HOME_WEIGHTS = MappingProxyType(
    {
        "01": 475, "02": 122, "03": 92, "04": 377, "05": 341, "06": 184, "07": 676,
        "08": 1034, "09": 380, "10": 817, "11": 1218, "12": 140, "13": 139, "14": 84,
        "15": 81, "16": 218, "17": 17, "18": 345, "19": 617,
    }
)  # fmt: skip
# Where they go to work or study: the business districts and the industrial west weigh most.
WORK_WEIGHTS = MappingProxyType(
    {
        "01": 120, "02": 190, "03": 110, "04": 20, "05": 15, "06": 25, "07": 30, "08": 90,
        "09": 110, "10": 70, "11": 80, "12": 90, "13": 130, "14": 70, "15": 25, "16": 110,
        "17": 40, "18": 20, "19": 20,
    }
)  # fmt: skip
# Weekend outings: shopping, parks and the centre.
LEISURE_WEIGHTS = MappingProxyType(
    {
        "01": 110, "02": 120, "03": 80, "08": 60, "09": 40, "10": 50, "11": 80, "12": 40,
        "13": 70, "16": 30, "17": 50,
    }
)  # fmt: skip

# Shares of personalized cards with a concession profile (the rest have none).
PROFILE_SHARES = MappingProxyType({"elderly": 0.06, "disability": 0.015, "student_jovenes_e": 0.05})
BLOCKED_SHARE = 0.004  # personalized cards reported lost during the period

# Point-of-sale top-ups riders make, in pesos, with how often each is chosen.
RECHARGE_AMOUNTS = (10_000, 20_000, 30_000, 50_000, 100_000)
RECHARGE_WEIGHTS = (30, 35, 8, 22, 5)
# A personalized rider who finds the balance short rides on credit this often instead of
# topping up at once; a low balance prompts a top-up before it runs out this often.
CREDIT_RIDE_CHANCE = 0.12
EARLY_TOP_UP_CHANCE = 0.2

# How riders combine services between home and work: the share of each habit.
MODE_WEIGHTS = MappingProxyType(
    {
        "trunk": 30,  # walk to a trunk station
        "zonal_trunk": 28,  # zonal bus, then trunk (the classic transfer)
        "feeder_trunk": 10,  # free feeder to a portal, then trunk
        "zonal": 22,  # zonal buses only, sometimes two
        "trunk_trunk": 5,  # leaves the trunk system and re-enters within the window
        "trunk_zonal": 5,  # trunk, then a zonal bus to the door
    }
)
CABLE_SHARE_CIUDAD_BOLIVAR = 0.35  # of riders living in 19, who take TransMiCable down
