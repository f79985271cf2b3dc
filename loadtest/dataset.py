"""What the run draws from the service's database and fare policy: stations, routes, cards."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
from api import FARES, SetupError, setup_request
from locust.env import Environment
from options import option

from travel_recharge.kit.embedded import DATABASE_NAME
from travel_recharge.kit.scratch import libpq_url

# A card picked for taps keeps at least this much room under the maximum balance.
TAP_CARD_ROOM = 100_000
# The service treats the same card at the same validator within 60 s as one tap (a double
# tap): a card never comes back to a validator sooner than this.
VALIDATOR_REUSE_S = 90.0


@dataclass(frozen=True)
class Station:
    station_id: int
    code: str
    kind: str


@dataclass(frozen=True)
class FareLimits:
    full_fare: int  # the dearest full fare in force: a balance covering it pays any tap
    recharge_min: int
    recharge_max: int
    max_balance: int


@dataclass
class CardState:
    """A card one RiderAtDevices user taps and recharges; its balance as the API last said."""

    card_id: int
    balance: int
    validators_used: dict[str, float] = field(default_factory=dict)

    def fresh_validator(self, candidates: Callable[[], str]) -> str:
        """A validator this card has not been read by lately (no double tap by design)."""
        now = time.monotonic()
        self.validators_used = {
            v: at for v, at in self.validators_used.items() if now - at < VALIDATOR_REUSE_S
        }
        validator = candidates()
        while validator in self.validators_used:
            validator = candidates()
        self.validators_used[validator] = now
        return validator


@dataclass(frozen=True)
class Network:
    stations: list[Station]  # every active station and stop
    boarding: list[Station]  # trunk, portal and TransMiCable stations: taps at turnstiles
    exits: list[Station]  # trunk stations and portals: where trips end
    bus_stops: list[tuple[str, list[int]]]  # zonal and feeder routes with their stops
    route_codes: list[str]
    localities: list[str]
    recharge_points: list[int]  # active, not web


@dataclass(frozen=True)
class Dataset:
    network: Network
    rider_user_ids: list[int]
    tap_cards: list[CardState]


def database_url(environment: Environment) -> str:
    url = option(environment, "database_url") or os.environ.get("TR_DATABASE_URL")
    if url:
        return libpq_url(url)
    # `make run` keeps its PostgreSQL on a unix socket; its pid file names the socket's place.
    pid_file = Path(option(environment, "data_dir") or ".data") / "postgres" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        port, socket_dir = lines[3].strip(), lines[4].strip()
    except (OSError, IndexError) as exc:
        raise SetupError(
            f"no database: set LOCUST_DATABASE_URL or TR_DATABASE_URL (no {pid_file})"
        ) from exc
    return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(socket_dir, safe='')}&port={port}"


def fare_limits(host: str) -> FareLimits:
    in_force = setup_request(host, "GET", FARES)["in_force"]
    if not in_force:
        raise SetupError("no fare policy is in force: every tap would be refused")
    return FareLimits(
        full_fare=max(in_force["base_fares"].values()),
        recharge_min=int(in_force["recharge_min"]),
        recharge_max=int(in_force["recharge_max"]),
        max_balance=int(in_force["max_balance"]),
    )


async def read_dataset(url: str, riders: int, tap_cards: int, fares: FareLimits) -> Dataset:
    connection = await asyncpg.connect(url)
    try:
        stations = [
            Station(r["id"], r["code"], r["kind"])
            for r in await connection.fetch(
                "SELECT id, code, kind FROM stations WHERE active ORDER BY id"
            )
        ]
        bus_stops = [
            (r["code"], list(r["stops"]))
            for r in await connection.fetch(
                "SELECT r.code, array_agg(s.id ORDER BY rs.sequence) AS stops FROM routes r "
                "JOIN route_stops rs ON rs.route_id = r.id "
                "JOIN stations s ON s.id = rs.station_id AND s.active "
                "WHERE r.active AND r.kind IN ('zonal', 'feeder') GROUP BY r.code ORDER BY r.code"
            )
        ]
        route_codes = [
            r["code"]
            for r in await connection.fetch("SELECT code FROM routes WHERE active ORDER BY code")
        ]
        localities = [
            r["code"] for r in await connection.fetch("SELECT code FROM localities ORDER BY code")
        ]
        points = [
            r["id"]
            for r in await connection.fetch(
                "SELECT id FROM recharge_points WHERE active AND channel <> 'web' ORDER BY id"
            )
        ]
        rider_ids = [
            r["id"]
            for r in await connection.fetch(
                "SELECT u.id FROM users u WHERE EXISTS "
                "(SELECT 1 FROM cards c WHERE c.user_id = u.id) ORDER BY random() LIMIT $1",
                riders,
            )
        ]
        cards = [
            CardState(r["id"], r["balance"])
            for r in await connection.fetch(
                "SELECT id, balance FROM cards WHERE status = 'active' AND balance <= $1 "
                "ORDER BY random() LIMIT $2",
                fares.max_balance - TAP_CARD_ROOM,
                tap_cards,
            )
        ]
    finally:
        await connection.close()
    network = Network(
        stations=stations,
        boarding=[s for s in stations if s.kind in ("trunk", "portal", "cable")],
        exits=[s for s in stations if s.kind in ("trunk", "portal")],
        bus_stops=bus_stops,
        route_codes=route_codes,
        localities=localities,
        recharge_points=points,
    )
    missing = [
        name
        for name, found in (
            ("trunk stations", len(network.exits) >= 2),
            ("zonal or feeder routes with stops", network.bus_stops),
            ("non-web recharge points", network.recharge_points),
            ("riders with cards", rider_ids),
            ("active cards", cards),
        )
        if not found
    ]
    if missing:
        raise SetupError(f"the database has no {', '.join(missing)}: seed it first")
    return Dataset(network, rider_ids, cards)
