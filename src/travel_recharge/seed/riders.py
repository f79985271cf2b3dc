"""Riders: who holds each card, where they live and work, and how they travel.

Everything about a card is drawn from its own random stream (seeded by the run's seed and
the card id), so a card's rider, trips and money do not depend on how cards are split among
worker processes.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from travel_recharge.fares.policy import STATION_SERVICE, CardType, ServiceKind
from travel_recharge.seed import options as model
from travel_recharge.seed.options import SeedOptions
from travel_recharge.seed.world import World

# Cards were issued over the years before the generated period; users registered with them.
ISSUED_OVER = timedelta(days=6 * 365)

_FIRST_NAMES = (
    "Ana", "Andrés", "Camila", "Carlos", "Carolina", "Daniel", "Diana", "Diego", "Laura",
    "Felipe", "Valentina", "Juan", "Paula", "José", "María", "Luis", "Natalia", "Jorge",
    "Sofía", "Santiago", "Daniela", "Sebastián", "Angie", "Jhon", "Luisa", "Miguel", "Lina",
    "Óscar", "Sandra", "Héctor", "Gloria", "Fabián", "Yesenia", "Wilson", "Marcela", "Édgar",
)  # fmt: skip
_SURNAMES = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Moreno", "Rojas", "Vargas", "Torres", "Jiménez", "Castro",
    "Ruiz", "Suárez", "Muñoz", "Ortiz", "Romero", "Herrera", "Medina", "Castillo", "Guerrero",
    "Parra", "Cárdenas", "Beltrán", "Peña", "Quintero", "Cortés", "Salazar", "Acosta",
)  # fmt: skip
_MAIL_DOMAINS = ("example.com", "example.org", "example.net")


class Persona(StrEnum):
    COMMUTER = "commuter"  # every weekday in the peaks
    STUDENT = "student"  # weekdays, later mornings, afternoons back
    OFF_PEAK = "off_peak"  # some weekdays, between the peaks
    OCCASIONAL = "occasional"  # now and then


@dataclass(frozen=True, slots=True)
class Habits:
    weekday_chance: float
    weekend_chance: float
    leave_home: tuple[int, int]  # range of the usual departure, minutes after midnight
    leave_work: tuple[int, int]


HABITS = {
    Persona.COMMUTER: Habits(0.93, 0.3, (300, 480), (960, 1170)),
    Persona.STUDENT: Habits(0.85, 0.25, (360, 570), (720, 1080)),
    Persona.OFF_PEAK: Habits(0.45, 0.3, (510, 690), (750, 990)),
    Persona.OCCASIONAL: Habits(0.35, 0.25, (360, 720), (780, 1200)),
}


@dataclass(frozen=True, slots=True)
class Leg:
    """One boarding: at a station (trunk, cable) or on a bus (zonal, feeder)."""

    kind: ServiceKind
    station_id: int | None
    route_id: int | None
    end_station_id: int | None  # where a station leg ends; None for buses
    minutes: int  # riding time


@dataclass(frozen=True, slots=True)
class Rider:
    card_id: int
    card_type: CardType
    user_id: int | None
    profile: str | None
    persona: Persona
    home: str  # locality code
    home_station: int  # the trunk station the rider usually walks to
    mode: str  # a key of options.MODE_WEIGHTS, or "cable"
    to_work: tuple[Leg, ...]
    to_home: tuple[Leg, ...]
    leave_home: int  # this rider's usual departure, minutes after local midnight
    leave_work: int
    blocked_on_day: int | None  # reported lost that day: no trips from then on
    card_created_at: datetime
    user_row: tuple[object, ...] | None  # users table: id, name, document, email, registered


def card_rng(random_seed: int, card_id: int) -> random.Random:
    """The card's own stream: independent of chunking and worker count."""
    return random.Random(random_seed * 4_294_967_296 + card_id)


def pick(rng: random.Random, weights: Mapping[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def reverse(legs: tuple[Leg, ...]) -> tuple[Leg, ...]:
    """The way back: the same services in the opposite order, stations swapped."""
    return tuple(
        Leg(leg.kind, leg.end_station_id, leg.route_id, leg.station_id, leg.minutes)
        if leg.station_id is not None
        else leg
        for leg in reversed(legs)
    )


class Planner:
    """Builds legs between localities from what the network offers there."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng

    def station(self, locality: str, avoid: int | None = None) -> int:
        choices = [s for s in self.world.trunk_by_locality.get(locality, ()) if s != avoid]
        if not choices:
            choices = [s for s in self.world.trunk_stations if s != avoid]
        return self.rng.choice(choices)

    def zonal(self, locality: str) -> int:
        return self.rng.choice(
            self.world.zonal_by_locality.get(locality) or self.world.zonal_routes
        )

    def station_leg(self, board: int, alight: int) -> Leg:
        """A trunk or TransMiCable ride, priced by the boarding station's kind."""
        # About 22 km/h door to door on segregated lanes, plus waiting at the platform.
        minutes = 6 + round(self.world.distance_km(board, alight) * 60 / 22)
        kind = STATION_SERVICE[self.world.stations[board].kind]
        return Leg(kind, board, None, alight, minutes + self.rng.randint(0, 8))

    def bus_leg(self, route: int) -> Leg:
        kind = ServiceKind(self.world.routes[route].kind)
        low, high = (8, 22) if kind == ServiceKind.FEEDER else (12, 45)
        return Leg(kind, None, route, None, self.rng.randint(low, high))

    def legs(self, mode: str, home: str, away: str, home_station: int) -> tuple[Leg, ...]:
        """Legs from home (locality and usual station) to a station or stop in `away`."""
        rng, world = self.rng, self.world
        target = self.station(away, avoid=home_station)
        if mode == "cable" and world.cable_route is not None and world.cable_portal is not None:
            upper = rng.choice(world.cable_route.stop_ids[1:])
            base = world.cable_route.stop_ids[0]
            return (self.station_leg(upper, base), self.station_leg(world.cable_portal, target))
        if mode == "feeder_trunk" and world.feeders_by_locality.get(home):
            feeder = rng.choice(world.feeders_by_locality[home])
            portal = world.routes[feeder].stop_ids[0]
            return (self.bus_leg(feeder), self.station_leg(portal, self.station(away, portal)))
        if mode == "zonal":
            first = self.bus_leg(self.zonal(home))
            second = self.zonal(away)
            if rng.random() < 0.4 and second != first.route_id:
                return (first, self.bus_leg(second))
            return (first,)
        if mode == "trunk_trunk":
            middle = rng.choice(world.trunk_stations)
            again = self.station(world.stations[middle].locality_code, avoid=middle)
            if middle not in (home_station, target) and again != target:
                return (self.station_leg(home_station, middle), self.station_leg(again, target))
        trunk = self.station_leg(home_station, target)
        if mode in ("zonal_trunk", "feeder_trunk"):  # no feeder serves home: a zonal bus
            return (self.bus_leg(self.zonal(home)), trunk)
        if mode == "trunk_zonal":
            return (trunk, self.bus_leg(self.zonal(away)))
        return (trunk,)


def _persona(rng: random.Random, card_type: CardType, profile: str | None) -> Persona:
    if profile == "student_jovenes_e":
        return Persona.STUDENT
    if profile == "elderly" or (profile == "disability" and rng.random() < 0.5):
        return Persona.OFF_PEAK
    roll = rng.random()
    if card_type == CardType.BASIC:
        return Persona.COMMUTER if roll < 0.6 else Persona.OCCASIONAL
    if roll < 0.8:
        return Persona.COMMUTER
    return Persona.STUDENT if roll < 0.88 else Persona.OCCASIONAL


def _profile(rng: random.Random) -> str | None:
    roll = rng.random()
    for profile, share in model.PROFILE_SHARES.items():
        if roll < share:
            return profile
        roll -= share
    return None


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _user_row(
    rng: random.Random, user_id: int, registered_at: datetime, options: SeedOptions
) -> tuple[object, ...]:
    first = rng.choice(_FIRST_NAMES)
    surnames = rng.sample(_SURNAMES, 2)
    # A bijection of the user id onto 8-10 digit numbers: unique without a lookup.
    document = str(10_000_000 + (user_id * 7_919 + options.random_seed) % 1_990_000_000)
    email = (
        f"{_ascii(first)}.{_ascii(surnames[0])}{user_id}@{rng.choice(_MAIL_DOMAINS)}"
        if rng.random() < 0.85
        else None
    )
    active = rng.random() >= 0.02
    return (user_id, f"{first} {' '.join(surnames)}", document, email, registered_at, active)


def make_rider(
    world: World, options: SeedOptions, card_id: int, start: datetime, rng: random.Random
) -> Rider:
    """The rider of card `card_id` (1-based) in a period starting at `start`."""
    index, cards, users = card_id - 1, options.cards, options.users
    # Users are spread evenly among the cards, so every chunk of cards knows its user ids.
    personalized = (index + 1) * users // cards > index * users // cards
    card_type = CardType.PERSONALIZED if personalized else CardType.BASIC
    profile = _profile(rng) if personalized else None
    persona = _persona(rng, card_type, profile)
    created_at = start - ISSUED_OVER + ISSUED_OVER * ((index + rng.random()) / cards)
    user_id = (index + 1) * users // cards if personalized else None
    user_row = None
    if user_id is not None:
        registered = created_at - timedelta(minutes=rng.randint(1, 30))
        user_row = _user_row(rng, user_id, registered, options)
    home = pick(rng, model.HOME_WEIGHTS)
    work = pick(rng, model.WORK_WEIGHTS)
    if home == "19" and rng.random() < model.CABLE_SHARE_CIUDAD_BOLIVAR:
        mode = "cable"
    else:
        mode = pick(rng, model.MODE_WEIGHTS)
    planner = Planner(world, rng)
    home_station = planner.station(home)
    to_work = planner.legs(mode, home, work, home_station)
    habits = HABITS[persona]
    blocked = personalized and rng.random() < model.BLOCKED_SHARE
    return Rider(
        card_id=card_id,
        card_type=card_type,
        user_id=user_id,
        profile=profile,
        persona=persona,
        home=home,
        home_station=home_station,
        mode=mode,
        to_work=to_work,
        to_home=reverse(to_work),
        leave_home=rng.randint(*habits.leave_home),
        leave_work=rng.randint(*habits.leave_work),
        blocked_on_day=rng.randrange(options.days) if blocked else None,
        card_created_at=created_at,
        user_row=user_row,
    )
