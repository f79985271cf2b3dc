"""Pure generation: the rows of a range of cards, every tap priced by the fare engine.

No database and no clock: the same world, options and card range always give the same rows.
Each card's money is simulated in time order exactly as the live service would post it: a tap
is priced by `price_tap` with the policy in force at its event time and the card's earlier
taps inside the transfer window, top-ups are planned by `plan_recharge`, and every posting
appends its ledger entry with the balance after it (trips/service.py, cards/service.py).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.analytics.holidays import is_holiday
from travel_recharge.cards.numbers import card_number_for
from travel_recharge.fares.engine import (
    CardState,
    PriorTap,
    RechargeRejected,
    TapDeclined,
    TapPricing,
    TapRequest,
    card_after,
    plan_recharge,
    price_tap,
)
from travel_recharge.fares.policy import RechargeChannel
from travel_recharge.seed import options as model
from travel_recharge.seed.journeys import Boarding, day_boardings
from travel_recharge.seed.options import SeedOptions
from travel_recharge.seed.riders import Planner, Rider, card_rng, make_rider
from travel_recharge.seed.world import RechargePointRow, World

# Column lists of the rows below, in order; ids are added by the loader (see load.py).
USER_COLUMNS = ("id", "full_name", "document_id", "email", "registered_at", "active")
CARD_COLUMNS = (
    "id", "card_number", "card_type", "status", "user_id", "profile", "balance",
    "credit_trips_in_use", "status_reason", "last_used_at", "created_at",
)  # fmt: skip
RECHARGE_COLUMNS = (
    "card_id", "recharge_point_id", "channel", "amount", "credit_repaid", "new_balance",
    "created_at",
)  # fmt: skip
TRIP_COLUMNS = (
    "tap_id", "card_id", "validator_id", "station_id", "route_id", "service_kind",
    "event_time", "received_at", "fare_policy_id", "fare_charged", "fare_kind", "is_transfer",
    "credit_used", "benefit_trip_used", "transfers_in_window", "window_anchor",
    "window_ends_at", "balance_after", "end_station_id", "ended_at",
)  # fmt: skip
# recharge_id and trip_id hold indexes into the chunk's recharges and trips.
LEDGER_COLUMNS = (
    "card_id", "kind", "amount", "balance_after", "recharge_id", "trip_id", "created_at",
)  # fmt: skip

_VALIDATORS_PER_STATION = {"portal": 24, "trunk": 8, "cable": 4, "zonal": 1}
_BUSES_PER_ROUTE = 40
_END_RECORDED = 0.88  # share of trunk and cable boardings whose exit is known


@dataclass(frozen=True)
class Period:
    """The local days the data covers; the live service's calendar for benefit months."""

    days: tuple[date, ...]
    midnights: tuple[datetime, ...]  # each day's local midnight, in UTC

    @classmethod
    def of(cls, options: SeedOptions) -> Period:
        zone = ZoneInfo(options.timezone)
        days = tuple(options.until - timedelta(days=n) for n in range(options.days, 0, -1))
        midnights = tuple(datetime.combine(d, time(), zone).astimezone(UTC) for d in days)
        return cls(days, midnights)


Row = tuple[object, ...]
# card_id, kind, amount, balance_after, recharge index, trip index, created_at
LedgerRow = tuple[int, str, int, int, int | None, int | None, datetime]


@dataclass
class ChunkRows:
    users: list[Row] = field(default_factory=list)
    cards: list[Row] = field(default_factory=list)
    recharges: list[Row] = field(default_factory=list)
    trips: list[Row] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)

    def checksum(self) -> str:
        digest = hashlib.sha256()
        for table in (self.users, self.cards, self.recharges, self.trips, self.ledger):
            digest.update(repr(table).encode())
        return digest.hexdigest()


class _CardSimulation:
    """One card through the period: its balance, history and postings."""

    def __init__(self, world: World, rider: Rider, rows: ChunkRows, rng: random.Random) -> None:
        self.world = world
        self.rider = rider
        self.rows = rows
        self.rng = rng
        self.state = CardState(
            card_type=rider.card_type, balance=0, credit_trips_in_use=0, profile=rider.profile
        )
        self.history: list[PriorTap] = []
        self.month: tuple[int, int] | None = None
        self.last_at: datetime | None = None

    def new_day(self, day: date) -> None:
        if (day.year, day.month) != self.month:
            # Benefit trips are monthly and not carried over.
            self.month = (day.year, day.month)
            self.state = replace(self.state, benefit_trips_used_this_month=0)

    def board(self, boarding: Boarding, at: datetime) -> None:
        leg, rng = boarding.leg, self.rng
        policy_row = self.world.policy_at(at)
        policy = policy_row.policy
        window = policy.transfer_window
        self.history = [tap for tap in self.history if at - tap.event_time <= window]
        tap = TapRequest(
            event_time=at,
            service_kind=leg.kind,
            # The live service passes ids as codes (the engine only compares them).
            route_code=None if leg.route_id is None else str(leg.route_id),
            station_code=None if leg.station_id is None else str(leg.station_id),
        )
        outcome = price_tap(self.state, self.history, tap, policy)
        low = self.state.balance < 2 * policy.highest_full_fare()
        if (
            isinstance(outcome, TapDeclined)
            or (outcome.credit_used and rng.random() >= model.CREDIT_RIDE_CHANCE)
            or (low and rng.random() < model.EARLY_TOP_UP_CHANCE)
        ) and self.top_up(leg.station_id, at):
            outcome = price_tap(self.state, self.history, tap, policy)
        if isinstance(outcome, TapDeclined):
            return  # turned away at the turnstile: nothing is posted
        self.post_tap(boarding, at, policy_row.id, outcome)
        self.state = card_after(self.state, outcome)
        self.history.append(PriorTap.from_pricing(tap, outcome))

    def post_tap(self, boarding: Boarding, at: datetime, policy_id: int, out: TapPricing) -> None:
        leg, rng, rows = boarding.leg, self.rng, self.rows
        if leg.station_id is not None:
            station = self.world.stations[leg.station_id]
            count = _VALIDATORS_PER_STATION[station.kind]
            validator = f"TM-{station.code}-{rng.randint(1, count):02d}"
        else:
            assert leg.route_id is not None
            code = self.world.routes[leg.route_id].code
            validator = f"SITP-{code}-{rng.randint(1, _BUSES_PER_ROUTE):03d}"
        # Validators forward taps within seconds; now and then one was offline for a while.
        delay = rng.randint(1, 25) if rng.random() >= 0.01 else rng.randint(300, 5400)
        received = at + timedelta(seconds=delay)
        ended = leg.end_station_id is not None and rng.random() < _END_RECORDED
        left = out.transfer_window_left
        rows.trips.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                self.rider.card_id,
                validator,
                leg.station_id,
                leg.route_id,
                leg.kind.value,
                at,
                received,
                policy_id,
                out.fare_charged,
                out.fare_kind.value,
                out.is_transfer,
                out.credit_used,
                out.benefit_trip_used,
                out.transfers_in_window,
                out.window_anchor,
                None if left is None else at + left,
                out.balance_after,
                leg.end_station_id if ended else None,
                at + timedelta(seconds=leg.minutes * 60 + rng.randrange(60)) if ended else None,
            )
        )
        # The fare entry of every tap, free ones included, as trips/repository.py posts it.
        rows.ledger.append(
            (
                self.rider.card_id,
                "fare",
                -out.fare_charged,
                out.balance_after,
                None,
                len(rows.trips) - 1,
                received,
            )
        )
        self.last_at = at

    def top_up(self, station_id: int | None, tap_at: datetime) -> bool:
        """A point-of-sale top-up just before the tap; False when no amount is allowed."""
        rng, rows, card = self.rng, self.rows, self.state
        before = rng.randint(60, 600)
        at = tap_at - timedelta(seconds=before)
        if self.last_at is not None and at <= self.last_at:
            at = self.last_at + (tap_at - self.last_at) / 2
        policy = self.world.policy_at(at).policy
        point = self.recharge_point(station_id)
        amounts = model.RECHARGE_AMOUNTS
        start = amounts.index(rng.choices(amounts, weights=model.RECHARGE_WEIGHTS)[0])
        for amount in amounts[start:]:
            if card.balance + amount < policy.highest_full_fare():
                continue  # riders top up enough for the next fare
            try:
                plan = plan_recharge(
                    card.balance, card.credit_trips_in_use, amount, policy, RechargeChannel.POS
                )
            except RechargeRejected:
                continue
            card_id = self.rider.card_id
            rows.recharges.append(
                (
                    card_id,
                    point.id,
                    point.channel,
                    amount,
                    plan.credit_repaid,
                    plan.new_balance,
                    at,
                )
            )
            index = len(rows.recharges) - 1
            # Repayment of credit trips first, then the rest (cards/service.py).
            balance = card.balance
            for kind, part in (
                ("credit_repayment", plan.credit_repaid),
                ("recharge", amount - plan.credit_repaid),
            ):
                if part:
                    balance += part
                    rows.ledger.append((card_id, kind, part, balance, index, None, at))
            self.state = replace(
                card,
                balance=plan.new_balance,
                credit_trips_in_use=plan.credit_trips_in_use_after,
            )
            self.last_at = at
            return True
        return False

    def recharge_point(self, station_id: int | None) -> RechargePointRow:
        """The counter of the locality of the station, else a kiosk near home."""
        world, rng = self.world, self.rng
        if station_id is not None:
            locality = world.stations[station_id].locality_code
            choices = world.counters_by_locality.get(locality, ())
        else:
            locality = self.rider.home
            choices = world.kiosks_by_locality.get(locality, ()) or world.counters_by_locality.get(
                locality, ()
            )
        return world.points[rng.choice(choices or world.counters)]

    def card_row(self) -> tuple[object, ...]:
        rider, state = self.rider, self.state
        blocked = rider.blocked_on_day is not None
        return (
            rider.card_id,
            card_number_for(rider.card_id),
            rider.card_type.value,
            "blocked" if blocked else "active",
            rider.user_id,
            rider.profile,
            state.balance,
            state.credit_trips_in_use,
            "reported lost by the owner" if blocked else None,
            self.last_at,
            rider.card_created_at,
        )


def generate_cards(world: World, options: SeedOptions, first: int, last: int) -> ChunkRows:
    """Rows of cards `first`..`last` (ids, inclusive) over the whole period."""
    period = Period.of(options)
    rows = ChunkRows()
    for card_id in range(first, last + 1):
        rng = card_rng(options.random_seed, card_id)
        rider = make_rider(world, options, card_id, period.midnights[0], rng)
        if rider.user_row is not None:
            rows.users.append(rider.user_row)
        simulation = _CardSimulation(world, rider, rows, rng)
        planner = Planner(world, rng)
        for index, (day, midnight) in enumerate(zip(period.days, period.midnights, strict=True)):
            if rider.blocked_on_day is not None and index >= rider.blocked_on_day:
                break
            simulation.new_day(day)
            # Sundays' habits on Saturdays, Sundays and Colombia's public holidays.
            rest_day = day.weekday() >= 5 or is_holiday(day)
            for boarding in day_boardings(rider, planner, rng, rest_day):
                simulation.board(boarding, midnight + timedelta(seconds=boarding.at))
        rows.cards.append(simulation.card_row())
    return rows
