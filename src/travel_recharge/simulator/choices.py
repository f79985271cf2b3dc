"""What simulated riders do: which card taps where, who recharges how much. Pure and seeded.

The shape of the traffic, not a forecast: a few regular riders tap far more often than the
rest (a Zipf-Mandelbrot skew over the sampled cards), portals and stations many routes call
at are busier, a share of boardings are zonal buses, a rider who boarded recently often
boards again within the transfer window (so transfers happen), and a rider refused for lack
of balance recharges at the next ticket office rather than tapping again.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from travel_recharge.simulator.repository import BoardingStation, BusRoute, SampledCard

T = TypeVar("T")

# Zipf-Mandelbrot weight of the card of rank k: 1 / (k + OFFSET) ** EXPONENT. The offset
# flattens the head: with the simulator's 500 riders the busiest one gets ~2.3% of taps (with
# 3,000, ~1.6%), not the ~15% a pure Zipf law would give (one card tapping many times a
# second is no rider).
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 10.0
# Portals are the network's busiest stations (the feeders end there); each route calling
# at a station brings riders to it.
PORTAL_FACTOR = 3.0
# About half of the city's boardings are on zonal buses, the rest at TransMilenio gates.
BUS_SHARE = 0.4
# Feeder buses are shorter (and free); a zonal route's riders scale with its stops.
FEEDER_FACTOR = 0.5
# Of the taps, this share is a rider boarding again after an earlier boarding (a transfer).
RETURN_SHARE = 0.3
RECENT_RIDERS = 2_000
# What riders put on a card at a ticket office or shop (pesos, multiples of 1,000), and how
# often: mostly 10,000 to 50,000.
RECHARGE_AMOUNTS = (2_000, 5_000, 10_000, 20_000, 30_000, 50_000, 100_000)
RECHARGE_WEIGHTS = (3, 9, 28, 27, 12, 16, 5)
# Devices the validator ids name: turnstiles per station, buses per route.
TURNSTILES = 12
BUSES_PER_ROUTE = 50
# Cards refused for no balance waiting for their rider's recharge; beyond it the oldest wait
# is forgotten.
MAX_WAITING_RECHARGE = 5_000


@dataclass(frozen=True)
class FareFacts:
    """What riders know of the policy in force and the service's tap rules."""

    transfer_window_s: float
    double_tap_window_s: float
    recharge_min: int
    recharge_max: int
    max_balance: int


@dataclass(frozen=True)
class Tap:
    card_id: int
    validator_id: str
    station_id: int | None
    route_code: str | None


@dataclass(frozen=True)
class Recharge:
    card_id: int
    amount: int
    recharge_point_id: int


Event = Tap | Recharge


class WeightedPicker(Generic[T]):
    """Draws items in proportion to their weights (cumulative weights and a bisection)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights) or min(weights) <= 0:
            raise ValueError("a picker needs items with positive weights")
        self.items = list(items)
        self._cumulative = list(itertools.accumulate(weights))

    def __len__(self) -> int:
        return len(self.items)

    def pick(self, rng: random.Random) -> T:
        drawn = rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, drawn)
        return self.items[min(index, len(self.items) - 1)]


def zipf_weights(count: int) -> list[float]:
    """Weights of ranks 1..count, heaviest first."""
    return [1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT for rank in range(1, count + 1)]


def busiest_card_share(cards: int) -> float:
    """The share of the taps that the most regular of `cards` riders makes (the skew's head)."""
    weights = zipf_weights(cards)
    return weights[0] / sum(weights)


def station_weight(station: BoardingStation) -> float:
    return (1 + station.routes) * (PORTAL_FACTOR if station.kind == "portal" else 1.0)


def route_weight(route: BusRoute) -> float:
    return len(route.stops) * (FEEDER_FACTOR if route.kind == "feeder" else 1.0)


def recharge_amount(rng: random.Random, room: int, facts: FareFacts) -> int | None:
    """A typical amount the policy accepts and the card has room for (None: no room)."""
    ceiling = min(facts.recharge_max, room)
    allowed = [
        (amount, weight)
        for amount, weight in zip(RECHARGE_AMOUNTS, RECHARGE_WEIGHTS, strict=True)
        if facts.recharge_min <= amount <= ceiling
    ]
    if not allowed:
        return None
    amounts = [amount for amount, _ in allowed]
    weights = [weight for _, weight in allowed]
    chosen: int = rng.choices(amounts, weights)[0]
    return chosen


@dataclass(frozen=True)
class World:
    """The run's sample: the cards riders carry, where they board, where they recharge."""

    cards: WeightedPicker[int]
    balances: dict[int, int]
    stations: WeightedPicker[BoardingStation] | None
    routes: WeightedPicker[BusRoute] | None
    recharge_points: Sequence[int]

    @classmethod
    def build(
        cls,
        rng: random.Random,
        cards: Sequence[SampledCard],
        stations: Sequence[BoardingStation],
        routes: Sequence[BusRoute],
        recharge_points: Sequence[int],
    ) -> World:
        """Raises ValueError when there is nothing to ride or nowhere to recharge."""
        routes = [r for r in routes if r.stops]
        missing = [
            name
            for name, found in (
                ("active cards", bool(cards)),
                ("active stations or bus routes", bool(stations or routes)),
                ("active points of sale", bool(recharge_points)),
            )
            if not found
        ]
        if missing:
            raise ValueError(f"nothing to simulate: the database has no {', '.join(missing)}")
        ranked = [card.card_id for card in cards]
        rng.shuffle(ranked)  # which cards are the regulars is itself random
        return cls(
            cards=WeightedPicker(ranked, zipf_weights(len(ranked))),
            balances={card.card_id: card.balance for card in cards},
            stations=WeightedPicker(stations, [station_weight(s) for s in stations])
            if stations
            else None,
            routes=WeightedPicker(routes, [route_weight(r) for r in routes]) if routes else None,
            recharge_points=list(recharge_points),
        )


@dataclass(frozen=True)
class _Boarding:
    card_id: int
    at: float
    station_id: int | None
    route_code: str | None


class Riders:
    """Chooses each next event and learns from the answers (balances, refusals)."""

    def __init__(
        self,
        world: World,
        facts: FareFacts,
        rng: random.Random,
        recharge_share: float,
        return_share: float = RETURN_SHARE,
        validators: Sequence[str] = (),
    ) -> None:
        """validators: the ids of the validators that read the cards (the run's device
        accounts, each bound to one); none: made-up turnstiles and buses of each station and
        route."""
        self.world = world
        self.validators = list(validators)
        self.facts = facts
        self.rng = rng
        self.recharge_share = recharge_share
        self.return_share = return_share
        self._recent: list[_Boarding] = []
        # Per card, the validators that read it within the double-tap window, and when.
        self._read_by: dict[int, dict[str, float]] = {}
        # Insertion-ordered set: the oldest refusal is served first.
        self._waiting: OrderedDict[int, None] = OrderedDict()

    @property
    def waiting_recharge(self) -> int:
        return len(self._waiting)

    def next_event(self, now: float) -> Event:
        """The next thing a rider does at `now` (monotonic seconds)."""
        if self.rng.random() < self.recharge_share:
            recharge = self._recharge()
            if recharge is not None:
                return recharge
        return self._tap(now)

    # --- what the answers taught ----------------------------------------------------------

    def charged(self, card_id: int, balance_after: int) -> None:
        self.world.balances[card_id] = balance_after

    def refused(self, card_id: int) -> None:
        """A 402: the rider goes to recharge instead of tapping on."""
        self._waiting[card_id] = None
        self._waiting.move_to_end(card_id)
        while len(self._waiting) > MAX_WAITING_RECHARGE:
            self._waiting.popitem(last=False)

    def recharged(self, card_id: int, new_balance: int) -> None:
        self.world.balances[card_id] = new_balance
        self._waiting.pop(card_id, None)

    # --- recharges ------------------------------------------------------------------------

    def _recharge(self) -> Recharge | None:
        if self._waiting:
            card_id, _ = self._waiting.popitem(last=False)
        else:
            card_id = self.world.cards.pick(self.rng)
        room = self.facts.max_balance - self.world.balances.get(card_id, 0)
        amount = recharge_amount(self.rng, room, self.facts)
        if amount is None:
            return None  # a full card: its rider rides instead
        point = self.rng.choice(self.world.recharge_points)
        return Recharge(card_id, amount, point)

    # --- taps -----------------------------------------------------------------------------

    def _tap(self, now: float) -> Tap:
        if self._recent and self.rng.random() < self.return_share:
            boarding = self._returning(now)
            if boarding is not None:
                return self._board_again(boarding, now)
        return self._board(self._rider(), now, after=None)

    def _rider(self) -> int:
        # A rider waiting to recharge does not tap; a few draws find one who can.
        card_id = self.world.cards.pick(self.rng)
        for _ in range(3):
            if card_id not in self._waiting:
                break
            card_id = self.world.cards.pick(self.rng)
        return card_id

    def _returning(self, now: float) -> _Boarding | None:
        """A rider who boarded within the transfer window (taken out of the recent ones)."""
        index = self.rng.randrange(len(self._recent))
        boarding = self._recent[index]
        self._recent[index] = self._recent[-1]
        self._recent.pop()
        fresh = now - boarding.at < self.facts.transfer_window_s
        return boarding if fresh and boarding.card_id not in self._waiting else None

    def _board_again(self, before: _Boarding, now: float) -> Tap:
        return self._board(before.card_id, now, after=before)

    def _board(self, card_id: int, now: float, after: _Boarding | None) -> Tap:
        """A boarding at a station gate or on a bus; after a boarding, somewhere else (a
        station after a bus, a bus after a station, or another bus route)."""
        by_bus = self._by_bus(after)
        if by_bus:
            assert self.world.routes is not None
            route = self.world.routes.pick(self.rng)
            if after is not None and after.route_code == route.code and len(self.world.routes) > 1:
                # Boarding the same route again is no transfer: another route (rarely needed
                # with the city's hundreds of routes, so the list is made only then).
                others = [r for r in self.world.routes.items if r.code != route.code]
                route = self.rng.choice(others)
            tap = self._validated(
                card_id,
                now,
                self._device_or(
                    lambda: f"SIM-{route.code}-{self.rng.randint(1, BUSES_PER_ROUTE):03d}"
                ),
                self.rng.choice(route.stops),
                route.code,
            )
        else:
            assert self.world.stations is not None
            station = self.world.stations.pick(self.rng)
            tap = self._validated(
                card_id,
                now,
                self._device_or(lambda: f"SIM-{station.code}-{self.rng.randint(1, TURNSTILES)}"),
                station.station_id,
                None,
            )
        self._remember(_Boarding(card_id, now, tap.station_id, tap.route_code))
        return tap

    def _device_or(self, made_up: Callable[[], str]) -> Callable[[], str]:
        if not self.validators:
            return made_up
        return lambda: self.rng.choice(self.validators)

    def _by_bus(self, after: _Boarding | None) -> bool:
        if self.world.routes is None:
            return False
        if self.world.stations is None:
            return True
        if after is None:
            return self.rng.random() < BUS_SHARE
        # Inside TransMilenio a rider changes lines without tapping: a transfer that taps is
        # to or from a bus.
        return after.route_code is None or self.rng.random() < 0.5

    def _validated(
        self,
        card_id: int,
        now: float,
        validator: Callable[[], str],
        station_id: int | None,
        route_code: str | None,
    ) -> Tap:
        # The same card at the same validator within the double-tap window is one tap to the
        # service; a real rider is not read twice by one turnstile, so another one reads it.
        window = self.facts.double_tap_window_s
        read_by = {v: at for v, at in self._read_by.get(card_id, {}).items() if now - at < window}
        chosen = validator()
        for _ in range(8):
            if chosen not in read_by:
                break
            chosen = validator()
        if chosen in read_by and self.validators:
            # A regular rider whom most of the run's validators read lately: one that did
            # not, if any is left (rare draws stay cheap; this list is made only then).
            unread = [v for v in self.validators if v not in read_by]
            if unread:
                chosen = self.rng.choice(unread)
        read_by[chosen] = now
        self._read_by[card_id] = read_by
        return Tap(card_id, chosen, station_id, route_code)

    def _remember(self, boarding: _Boarding) -> None:
        if len(self._recent) < RECENT_RIDERS:
            self._recent.append(boarding)
        else:
            self._recent[self.rng.randrange(RECENT_RIDERS)] = boarding
