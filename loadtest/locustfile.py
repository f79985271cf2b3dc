"""Load test of Travel Recharge: the seed's four personas, authenticated, on seeded ids.

Personas (a class's weight is its share of the simulated users):

- MobileAppRider, 55: signs in as a rider and reads their own cards (balance, recharge
  history, trips, ledger); arrivals, station and route details, station alerts, stations of
  a locality, fares.
- RiderAtDevices, 28: a regular rider at the network's devices. Validators read its cards
  (taps at trunk stations, portals and TransMiCable, taps on zonal and feeder buses) and end
  the trips it started; recharge points top them up (Idempotency-Key; one in five recharges
  is sent again with the same key, as after a lost answer, and must be replayed).
- DataAnalyst, 11: users, trips and finance totals (also per locality) and the date-range
  analytics (trips by hour, revenue by day, top stations, shares).
- Admin, 6: cache statistics, health and keys; service, database and Redis health.

Run it headless for a fixed time, writing the CSV report (bench-reports/locust_stats.csv,
_failures.csv, _exceptions.csv, _stats_history.csv)::

    .venv/bin/locust -f loadtest/locustfile.py --headless --users 50 --spawn-rate 10 \\
        --run-time 2m --stop-timeout 10s --host http://127.0.0.1:8000 \\
        --csv bench-reports/locust --only-summary

--stop-timeout lets users finish the task in hand when the time is up rather than cutting
them off mid-request.

Exit code: 0 when every request succeeded, 1 when any failed, 2 when the set-up failed.

The server under test. All simulated users come from one address, and the default rate
limits allow 60 sign-ins a minute per address: serve with limits the load never reaches, as
`travel_recharge.security.rate_limit.unreachable_limits()` gives (the limiter still runs on
every request, as in production, and refuses none), e.g. for `make run`::

    LIMITS='import json; from travel_recharge.security.rate_limit import unreachable_limits'
    TR_RATE_LIMITS="$(.venv/bin/python -c "$LIMITS; print(json.dumps(unreachable_limits()))")" \\
        make run

A refused request (429) counts as a failure here, never as a success.

Set-up, once, when locust starts (before --run-time begins):

- Ids come from the service's database, so that no request is a 404 by design: active
  stations (id and 5-digit code), active routes, zonal and feeder routes with their stops,
  localities, non-web recharge points (the API refuses web ones with 422), riders who own
  cards, and active cards with room under the maximum balance for taps. The database is
  --database-url (LOCUST_DATABASE_URL), else TR_DATABASE_URL, else the embedded PostgreSQL
  of `make run`, found through <TR_DATA_DIR or .data>/postgres/postmaster.pid.
- Fare limits come from GET /api/v1/fares (the policy in force).
- An admin makes this run's accounts (logins locust-<run>-...): one rider account per
  sampled rider (at most --rider-accounts; mobile app users share them beyond that), a few
  analysts, validators and recharge points. They are deactivated when locust quits. The
  admin is a ready token (--admin-token, LOCUST_ADMIN_TOKEN; never renewed, so it must
  outlive the run), else LOCUST_ADMIN_USERNAME and LOCUST_ADMIN_PASSWORD, else the demo
  admin of <TR_DATA_DIR or .data>/demo-credentials.json (written by `make run`). No secret
  is kept in the repository.

Simulated people sign in with the password grant, devices with client credentials, and
each signs in again a minute before its token expires (TR_AUTH_TOKEN_TTL_S). A sign-in is
an argon2id verification on the server (about 0.25 s of CPU on a 2-core VM), so the ramp-up
is dominated by them; a device's token is shared by the simulated users driving it.

Money: each RiderAtDevices user has its own cards for the run and tracks their balances
from the API's answers (new_balance, balance_after). It taps only when the balance covers
the dearest full fare in force, recharging first otherwise, so a 402 (insufficient balance)
cannot happen by design and counts as a failure: it would mean the service charged other
than it answered. This tracking lives in one process: run locust as one process (not with
--processes, --master or --worker; the set-up refuses them).

--think-time (LOCUST_THINK_TIME) scales every persona's pause between tasks: 1 is the
personas' own pace, 0 none (as fast as the server answers).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen
from zoneinfo import ZoneInfo

import asyncpg
from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment
from locust.exception import RescheduleTask, StopUser
from locust.runners import MasterRunner, WorkerRunner

from travel_recharge.embedded import DATABASE_NAME
from travel_recharge.scratch import libpq_url

logger = logging.getLogger("loadtest")

BOGOTA = ZoneInfo("America/Bogota")

# Request names in locust's statistics: the API's path templates, so one row per endpoint.
TOKEN = "/api/v1/auth/token"  # noqa: S105 (a path)
ME = "/api/v1/auth/me"
BALANCE = "/api/v1/cards/{card_id}/balance"
HISTORY = "/api/v1/cards/{card_id}/history"
LEDGER = "/api/v1/cards/{card_id}/ledger"
CARD_TRIPS = "/api/v1/trips/card/{card_id}"
ARRIVALS = "/api/v1/stations/{station_id}/arrivals"
ALERTS = "/api/v1/stations/{station_id}/alerts"
STATION_DETAILS = "/api/v1/stations/{station_code}/details"
ROUTE_DETAILS = "/api/v1/routes/{route_code}/details"
STATIONS = "/api/v1/stations"
FARES = "/api/v1/fares"
TAP = "/api/v1/trips/start"
TRIP_END = "/api/v1/trips/end"
RECHARGE = "/api/v1/cards/recharge"
RECHARGE_RETRY = "/api/v1/cards/recharge [retry]"
USERS_COUNT = "/api/v1/users/count"
USERS_ACTIVE = "/api/v1/users/active/count"
USERS_LATEST = "/api/v1/users/latest"
TRIPS_TOTAL = "/api/v1/trips/total"
TRIPS_LOCALITIES = "/api/v1/trips/total/localities"
REVENUE = "/api/v1/finance/revenue"
REVENUE_LOCALITIES = "/api/v1/finance/revenue/localities"
TRIPS_BY_HOUR = "/api/v1/analytics/trips-by-hour"
REVENUE_BY_DAY = "/api/v1/analytics/revenue-by-day"
TOP_STATIONS = "/api/v1/analytics/top-stations"
SHARES = "/api/v1/analytics/shares"
CACHE_STATS = "/api/v1/cache/stats"
CACHE_KEYS = "/api/v1/cache/keys"
CACHE_HEALTH = "/api/v1/cache/health"
HEALTH = "/api/v1/health"
HEALTH_DB = "/api/v1/health/db"
HEALTH_CACHE = "/api/v1/health/cache"

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Sign in again this long before a token expires, so no request goes out with a dead one.
RENEW_BEFORE_S = 60.0
# Point-of-sale top-ups (pesos) and how often each is chosen: about what the taps spend, so
# the tracked balances neither run away to the maximum nor drain on a long run.
TOP_UPS = (5_000, 10_000, 20_000, 50_000)
TOP_UP_WEIGHTS = (30, 40, 25, 5)
# A card picked for taps keeps at least this much room under the maximum balance.
TAP_CARD_ROOM = 100_000
CARDS_PER_DEVICE_USER = 4
# The service treats the same card at the same validator within 60 s as one tap (a double
# tap): a card never comes back to a validator sooner than this.
VALIDATOR_REUSE_S = 90.0
TURNSTILES = 12
BUSES_PER_ROUTE = 200
# Caps on the accounts one run makes (each costs the server an argon2 hash).
MAX_ANALYST_ACCOUNTS = 3
MAX_DEVICE_ACCOUNTS = 4
SETUP_CONCURRENCY = 4


class SetupError(RuntimeError):
    """The load test cannot start: no host, admin, database, fare policy or seeded data."""


# --- options ------------------------------------------------------------------------------


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: LocustArgumentParser) -> None:
    # On the parser itself: locust's extras (is_secret) are not known to argument groups.
    parser.add_argument(
        "--database-url",
        env_var="LOCUST_DATABASE_URL",
        default="",
        help="the service's database, to draw seeded ids from (default: TR_DATABASE_URL, "
        "else the embedded PostgreSQL under the data directory)",
    )
    parser.add_argument(
        "--data-dir",
        env_var="LOCUST_DATA_DIR",
        default=os.environ.get("TR_DATA_DIR", ".data"),
        help="the service's data directory (embedded PostgreSQL, demo-credentials.json)",
    )
    parser.add_argument("--admin-username", env_var="LOCUST_ADMIN_USERNAME", default="")
    parser.add_argument(
        "--admin-password", env_var="LOCUST_ADMIN_PASSWORD", default="", is_secret=True
    )
    parser.add_argument(
        "--admin-token",
        env_var="LOCUST_ADMIN_TOKEN",
        default="",
        is_secret=True,
        help="a ready admin access token (not renewed: it must outlive the run)",
    )
    parser.add_argument(
        "--rider-accounts",
        env_var="LOCUST_RIDER_ACCOUNTS",
        type=int,
        default=100,
        help="at most this many rider accounts (mobile app users share them beyond it)",
    )
    parser.add_argument(
        "--think-time",
        env_var="LOCUST_THINK_TIME",
        type=float,
        default=1.0,
        help="multiplies every persona's pause between tasks (0: no pause)",
    )


def _option(environment: Environment, name: str) -> Any:
    return getattr(environment.parsed_options, name, None)


# --- the run's data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A simulated person's or device's account: the fields of its token request."""

    login: str
    form: dict[str, str]


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


def _renewal_s(expires_in: float) -> float:
    """When to sign in again: a minute before the token expires (halfway for short ones)."""
    return max(float(expires_in) - RENEW_BEFORE_S, float(expires_in) / 2)


class AdminAuth:
    """The admin behind the set-up: a fixed token, or credentials signed in when needed."""

    def __init__(self, host: str, token: str, account: Account | None) -> None:
        self._host = host
        self._token = token
        self.account = account
        self._renew_at = math.inf if token else 0.0

    def header(self) -> dict[str, str]:
        if self.account is not None and time.monotonic() >= self._renew_at:
            answer = _http(self._host, "POST", TOKEN, form=self.account.form)
            self._token = answer["access_token"]
            self._renew_at = time.monotonic() + _renewal_s(answer["expires_in"])
        return {"Authorization": f"Bearer {self._token}"}


@dataclass
class _Token:
    header: dict[str, str]
    renew_at: float


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
    device_tokens: dict[str, _Token] = field(default_factory=dict)
    _turns: dict[str, Iterator[int]] = field(default_factory=dict)

    def next_account(self, pool: str, accounts: list[Account]) -> Account:
        """Accounts are handed out in turn, so users share them evenly beyond the pool."""
        turn = self._turns.setdefault(pool, itertools.count())
        return accounts[next(turn) % len(accounts)]


_run: Run | None = None


def current_run() -> Run:
    """The run's data; a user that starts without it (the set-up failed) stops at once."""
    if _run is None:
        raise StopUser()
    return _run


def _http(
    host: str,
    method: str,
    path: str,
    *,
    form: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One set-up call (not counted in the load test's statistics); its JSON answer."""
    data, sent = None, dict(headers or {})
    if form is not None:
        data, sent["Content-Type"] = urlencode(form).encode(), FORM["Content-Type"]
    elif body is not None:
        data, sent["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = Request(host.rstrip("/") + path, data=data, headers=sent, method=method)  # noqa: S310
    try:
        with urlopen(request, timeout=30) as answer:  # noqa: S310 (the --host given)
            return json.loads(answer.read() or b"null")
    except HTTPError as exc:
        raise SetupError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc
    except URLError as exc:
        raise SetupError(f"{method} {path}: {exc.reason}") from exc


def _admin(environment: Environment, host: str) -> AdminAuth:
    token = _option(environment, "admin_token")
    if token:
        return AdminAuth(host, token.removeprefix("Bearer ").strip(), None)
    username = _option(environment, "admin_username")
    password = _option(environment, "admin_password")
    if not (username and password):
        path = Path(_option(environment, "data_dir") or ".data") / "demo-credentials.json"
        try:
            accounts = json.loads(path.read_text())["accounts"]
            demo = next(a for a in accounts if a.get("role") == "admin")
            username, password = demo["username"], demo["password"]
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise SetupError(
                "no admin: give LOCUST_ADMIN_TOKEN, or LOCUST_ADMIN_USERNAME and "
                f"LOCUST_ADMIN_PASSWORD, or run the demo that writes {path}"
            ) from exc
    form = {"grant_type": "password", "username": username, "password": password}
    return AdminAuth(host, "", Account(username, form))


def _database_url(environment: Environment) -> str:
    url = _option(environment, "database_url") or os.environ.get("TR_DATABASE_URL")
    if url:
        return libpq_url(url)
    # `make run` keeps its PostgreSQL on a unix socket; its pid file names the socket's place.
    pid_file = Path(_option(environment, "data_dir") or ".data") / "postgres" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        port, socket_dir = lines[3].strip(), lines[4].strip()
    except (OSError, IndexError) as exc:
        raise SetupError(
            f"no database: set LOCUST_DATABASE_URL or TR_DATABASE_URL (no {pid_file})"
        ) from exc
    return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(socket_dir, safe='')}&port={port}"


def _fare_limits(host: str) -> FareLimits:
    in_force = _http(host, "GET", FARES)["in_force"]
    if not in_force:
        raise SetupError("no fare policy is in force: every tap would be refused")
    return FareLimits(
        full_fare=max(in_force["base_fares"].values()),
        recharge_min=int(in_force["recharge_min"]),
        recharge_max=int(in_force["recharge_max"]),
        max_balance=int(in_force["max_balance"]),
    )


async def _read_dataset(url: str, riders: int, tap_cards: int, fares: FareLimits) -> Dataset:
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


def _make_accounts(
    host: str, admin: AdminAuth, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Accounts made by the admin, a few at a time (each is an argon2 hash on the server);
    if one cannot be made, those made are deactivated again."""
    made: list[dict[str, Any]] = []

    def create(request: dict[str, Any]) -> None:
        path = "/api/v1/auth/accounts"
        made.append(_http(host, "POST", path, body=request, headers=admin.header()))

    try:
        with ThreadPoolExecutor(SETUP_CONCURRENCY) as pool:
            list(pool.map(create, requests))
    except SetupError:
        _deactivate(host, admin, [account["login"] for account in made])
        raise
    return made


def _person(made: dict[str, Any]) -> Account:
    form = {"grant_type": "password", "username": made["login"], "password": made["secret"]}
    return Account(made["login"], form)


def _device(made: dict[str, Any]) -> Account:
    form = {
        "grant_type": "client_credentials",
        "client_id": made["login"],
        "client_secret": made["secret"],
    }
    return Account(made["login"], form)


def _share(users: int, weight: int) -> int:
    """How many of `users` simulated users a persona of this weight gets (at least one)."""
    return max(1, math.ceil(users * weight / TOTAL_WEIGHT))


def _set_up(environment: Environment) -> Run:
    if isinstance(environment.runner, MasterRunner | WorkerRunner):
        raise SetupError("run locust as one process: tap cards' balances are tracked in it")
    host = environment.host
    if not host:
        raise SetupError("no --host: the service's base URL, e.g. http://127.0.0.1:8000")
    users = int(_option(environment, "num_users") or 1)
    admin = _admin(environment, host)
    admin.header()  # fails early on a wrong password
    fares = _fare_limits(host)
    riders = min(
        int(_option(environment, "rider_accounts") or 1), _share(users, MobileAppRider.weight)
    )
    device_users = _share(users, RiderAtDevices.weight)
    try:
        dataset = asyncio.run(
            _read_dataset(
                _database_url(environment),
                riders=max(1, riders),
                # Twice what the users take: cards are drawn at random, not all may qualify.
                tap_cards=max(200, 2 * CARDS_PER_DEVICE_USER * device_users),
                fares=fares,
            )
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise SetupError(f"cannot read the database: {exc}") from exc
    devices = min(device_users, MAX_DEVICE_ACCOUNTS)
    run_id = uuid.uuid4().hex[:8]
    requests: list[dict[str, Any]] = [
        {"login": f"locust-{run_id}-rider-{i}", "role": "rider", "user_id": user_id}
        for i, user_id in enumerate(dataset.rider_user_ids)
    ]
    roles = (
        ("analyst", min(_share(users, DataAnalyst.weight), MAX_ANALYST_ACCOUNTS)),
        ("validator", devices),
        ("recharge_point", devices),
    )
    for role, count in roles:
        requests += [{"login": f"locust-{run_id}-{role}-{i}", "role": role} for i in range(count)]
    made = _make_accounts(host, admin, requests)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for account in made:
        by_role.setdefault(account["role"], []).append(account)
    logger.info(
        "loadtest.ready run=%s accounts=%d tap_cards=%d stations=%d",
        run_id,
        len(made),
        len(dataset.tap_cards),
        len(dataset.network.stations),
    )
    return Run(
        run_id=run_id,
        admin=admin,
        fares=fares,
        network=dataset.network,
        riders=[_person(a) for a in by_role["rider"]],
        analysts=[_person(a) for a in by_role["analyst"]],
        validators=[_device(a) for a in by_role["validator"]],
        recharge_point_accounts=[_device(a) for a in by_role["recharge_point"]],
        tap_cards=deque(dataset.tap_cards),
        created_logins=[a["login"] for a in made],
    )


@events.init.add_listener  # type: ignore[untyped-decorator]
def _on_init(environment: Environment, **_: Any) -> None:
    """Set up before the run: --run-time then measures the load alone."""
    global _run
    try:
        _run = _set_up(environment)
    except SetupError as exc:
        logger.error("loadtest.setup_failed %s", exc)
        raise SystemExit(2) from exc
    except Exception as exc:  # the database or the API answered something unexpected
        logger.exception("loadtest.setup_failed")
        raise SystemExit(2) from exc


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _on_quitting(environment: Environment, **_: Any) -> None:
    """Deactivate this run's accounts: their secrets die with the process."""
    if _run is not None and environment.host:
        _deactivate(environment.host, _run.admin, _run.created_logins)


def _deactivate(host: str, admin: AdminAuth, logins: list[str]) -> None:
    def deactivate(login: str) -> None:
        try:
            _http(host, "POST", f"/api/v1/auth/accounts/{login}/deactivate", headers=admin.header())
        except SetupError as exc:
            logger.warning("loadtest.deactivate_failed login=%s %s", login, exc)

    with ThreadPoolExecutor(SETUP_CONCURRENCY) as pool:
        list(pool.map(deactivate, logins))


# --- personas -----------------------------------------------------------------------------


def _failed(response: ResponseContextManager, expected: tuple[int, ...]) -> bool:
    """Marks the response a failure unless its status is expected; True when it failed."""
    if response.status_code in expected:
        return False
    response.failure(f"{response.status_code}: {(response.text or '')[:200]}")  # type: ignore[no-untyped-call]
    return True


class _Persona(FastHttpUser):
    """Signs in as its accounts (and again before tokens expire) and paces its tasks."""

    abstract = True
    # The endpoints the persona calls, as named in the statistics.
    endpoints: ClassVar[tuple[str, ...]] = ()
    pause_s: ClassVar[tuple[float, float]] = (1.0, 3.0)

    def wait_time(self) -> float:
        low, high = self.pause_s
        scale = _option(self.environment, "think_time")
        return random.uniform(low, high) * (1.0 if scale is None else float(scale))

    def on_start(self) -> None:
        self.shared = current_run()
        self._tokens: dict[str, _Token] = {}

    def bearer(self, account: Account, *, device: bool = False) -> dict[str, str]:
        """The Authorization header of the account, signing in when needed.

        A person signs in on their own phone or laptop; a device's token serves every
        simulated user that drives it (as a station gateway's would)."""
        tokens = self.shared.device_tokens if device else self._tokens
        token = tokens.get(account.login)
        if token is None or time.monotonic() >= token.renew_at:
            token = tokens[account.login] = self._sign_in(account)
        return token.header

    def _sign_in(self, account: Account) -> _Token:
        with self.client.post(
            TOKEN, data=urlencode(account.form), headers=FORM, name=TOKEN, catch_response=True
        ) as response:
            if _failed(response, (200,)):
                token = None
            else:
                answer = response.json()
                renew_at = time.monotonic() + _renewal_s(answer["expires_in"])
                header = {"Authorization": f"Bearer {answer['access_token']}"}
                token = _Token(header, renew_at)
        if token is None:
            raise RescheduleTask()  # the failed sign-in is counted; try again next task
        return token

    def read(
        self,
        path: str,
        name: str,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> None:
        """A read that must answer one of the `ok` statuses."""
        with self.client.get(path, name=name, headers=headers, catch_response=True) as response:
            _failed(response, ok)


class MobileAppRider(_Persona):
    """A rider with the mobile app: their own cards, then arrivals, stations and routes."""

    weight = 55
    pause_s = (1.0, 4.0)
    endpoints = (
        TOKEN,
        ME,
        BALANCE,
        HISTORY,
        CARD_TRIPS,
        LEDGER,
        ARRIVALS,
        STATION_DETAILS,
        ROUTE_DETAILS,
        ALERTS,
        STATIONS,
        FARES,
    )

    def on_start(self) -> None:
        super().on_start()
        self.account = self.shared.next_account("rider", self.shared.riders)
        self.card_ids: list[int] = []

    def _mine(self) -> tuple[int, dict[str, str]]:
        """One of the rider's cards, as the app lists them after signing in."""
        headers = self.bearer(self.account)
        if not self.card_ids:
            with self.client.get(ME, name=ME, headers=headers, catch_response=True) as response:
                if not _failed(response, (200,)):
                    self.card_ids = list(response.json()["card_ids"])
                    if not self.card_ids:
                        response.failure("the rider has no card")
            if not self.card_ids:
                raise RescheduleTask()
        return random.choice(self.card_ids), headers

    def _station(self) -> Station:
        return random.choice(self.shared.network.stations)

    @task(10)
    def balance(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/balance", BALANCE, headers)

    @task(3)
    def recharge_history(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/history?limit=20", HISTORY, headers)

    @task(3)
    def card_trips(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/trips/card/{card_id}?limit=20", CARD_TRIPS, headers)

    @task(1)
    def ledger(self) -> None:
        card_id, headers = self._mine()
        self.read(f"/api/v1/cards/{card_id}/ledger?limit=20", LEDGER, headers)

    @task(6)
    def arrivals(self) -> None:
        self.read(f"/api/v1/stations/{self._station().station_id}/arrivals", ARRIVALS)

    @task(3)
    def station_details(self) -> None:
        self.read(f"/api/v1/stations/{self._station().code}/details", STATION_DETAILS)

    @task(3)
    def route_details(self) -> None:
        code = random.choice(self.shared.network.route_codes)
        self.read(f"/api/v1/routes/{quote(code)}/details", ROUTE_DETAILS)

    @task(2)
    def station_alerts(self) -> None:
        self.read(f"/api/v1/stations/{self._station().station_id}/alerts", ALERTS)

    @task(1)
    def stations_of_locality(self) -> None:
        locality = random.choice(self.shared.network.localities)
        self.read(f"/api/v1/stations?locality={locality}&limit=50", STATIONS)

    @task(1)
    def fares(self) -> None:
        self.read(FARES, FARES)


class RiderAtDevices(_Persona):
    """A regular rider at the devices: validators read its cards, recharge points top them up.

    The user owns a few cards for the run and tracks their balances from the answers."""

    weight = 28
    pause_s = (0.5, 2.0)
    endpoints = (TOKEN, TAP, TRIP_END, RECHARGE, RECHARGE_RETRY)

    def on_start(self) -> None:
        super().on_start()
        self.validator = self.shared.next_account("validator", self.shared.validators)
        self.point = self.shared.next_account("recharge_point", self.shared.recharge_point_accounts)
        pool = self.shared.tap_cards
        self.cards = [pool.popleft() for _ in range(min(CARDS_PER_DEVICE_USER, len(pool)))]
        if not self.cards:
            logger.error("loadtest.no_free_card: seed more cards or run fewer users")
            raise StopUser()
        self.open_trips: deque[tuple[int, int]] = deque(maxlen=50)  # (trip id, boarding)

    def on_stop(self) -> None:
        if hasattr(self, "cards"):  # not when the user stopped in on_start
            self.shared.tap_cards.extend(self.cards)  # free for users of a later start
            self.cards = []

    def _recharge(self, card: CardState, amount: int) -> None:
        body = {
            "card_id": card.card_id,
            "amount": amount,
            "recharge_point_id": random.choice(self.shared.network.recharge_points),
        }
        headers = self.bearer(self.point, device=True) | {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            RECHARGE, json=body, headers=headers, name=RECHARGE, catch_response=True
        ) as response:
            if _failed(response, (201,)):
                return
            answer = response.json()
            card.balance = int(answer["new_balance"])
        # A recharge point that lost the answer sends the same request again: the service
        # must answer the original recharge and credit nothing.
        if random.random() < 0.2:
            with self.client.post(
                RECHARGE, json=body, headers=headers, name=RECHARGE_RETRY, catch_response=True
            ) as retry:
                if _failed(retry, (201,)):
                    return
                if retry.headers.get("Idempotent-Replayed") != "true" or retry.json() != answer:
                    retry.failure("a retried recharge did not replay the original answer")

    def _top_up(self, card: CardState, at_least: int = 0) -> bool:
        """Recharge the card with an amount the policy and the maximum balance allow."""
        fares = self.shared.fares
        room = min(fares.recharge_max, fares.max_balance - card.balance)
        amounts = [a for a in TOP_UPS if max(at_least, fares.recharge_min) <= a <= room]
        if not amounts:
            return False
        weights = [w for a, w in zip(TOP_UPS, TOP_UP_WEIGHTS, strict=True) if a in amounts]
        self._recharge(card, random.choices(amounts, weights)[0])
        return True

    def _card_to_ride(self) -> CardState:
        """A card whose balance pays any full fare, topped up at the station when short."""
        card = random.choice(self.cards)
        if card.balance < self.shared.fares.full_fare:
            self._top_up(card, at_least=self.shared.fares.full_fare - card.balance)
        if card.balance < self.shared.fares.full_fare:
            raise RescheduleTask()  # the top-up failed (and was counted): no 402 by design
        return card

    def _tap(self, card: CardState, body: dict[str, Any]) -> dict[str, Any] | None:
        """Post the tap; the new trip's answer (None for a failure or a duplicate)."""
        body = {"card_id": card.card_id, "tap_id": str(uuid.uuid4())} | body
        headers = self.bearer(self.validator, device=True)
        with self.client.post(
            TAP, json=body, headers=headers, name=TAP, catch_response=True
        ) as response:
            if _failed(response, (200, 201)):
                return None
            answer: dict[str, Any] = response.json()
        if answer["duplicate"]:
            return None  # nothing was charged now: the tracked balance stands
        card.balance = int(answer["balance_after"])
        return answer

    @task(6)
    def tap_in_at_station(self) -> None:
        card = self._card_to_ride()
        stations = self.shared.network.boarding
        station = random.choice(stations)

        def turnstile() -> str:
            nonlocal station
            station = random.choice(stations)
            return f"LOCUST-{station.code}-T{random.randint(1, TURNSTILES):02d}"

        validator = card.fresh_validator(turnstile)
        answer = self._tap(card, {"station_id": station.station_id, "validator_id": validator})
        if answer is not None:
            self.open_trips.append((int(answer["trip_id"]), station.station_id))

    @task(3)
    def tap_on_bus(self) -> None:
        card = self._card_to_ride()
        route_code, stops = random.choice(self.shared.network.bus_stops)

        def bus() -> str:
            return f"LOCUST-BUS-{route_code}-{random.randint(1, BUSES_PER_ROUTE):03d}"

        body = {
            "route_code": route_code,
            "station_id": random.choice(stops),
            "validator_id": card.fresh_validator(bus),
        }
        self._tap(card, body)

    @task(4)
    def end_trip(self) -> None:
        """Tap out of a trip this user started (one it started now if none is open)."""
        if not self.open_trips:
            self.tap_in_at_station()
        if not self.open_trips:
            return
        trip_id, boarding = self.open_trips.popleft()
        exits = [s for s in random.sample(self.shared.network.exits, 2) if s.station_id != boarding]
        body = {"trip_id": trip_id, "station_id": exits[0].station_id}
        headers = self.bearer(self.validator, device=True)
        with self.client.post(
            TRIP_END, json=body, headers=headers, name=TRIP_END, catch_response=True
        ) as response:
            _failed(response, (200,))

    @task(2)
    def recharge(self) -> None:
        """A top-up at a ticket counter or kiosk, of the card that needs it most."""
        self._top_up(min(self.cards, key=lambda c: c.balance))


class DataAnalyst(_Persona):
    """An analyst reading users, trips and finance figures and the date-range analytics."""

    weight = 11
    pause_s = (2.0, 6.0)
    endpoints = (
        TOKEN,
        USERS_COUNT,
        USERS_ACTIVE,
        USERS_LATEST,
        TRIPS_TOTAL,
        TRIPS_LOCALITIES,
        REVENUE,
        REVENUE_LOCALITIES,
        TRIPS_BY_HOUR,
        REVENUE_BY_DAY,
        TOP_STATIONS,
        SHARES,
    )

    def on_start(self) -> None:
        super().on_start()
        self.account = self.shared.next_account("analyst", self.shared.analysts)

    def _read(
        self, path: str, query: dict[str, str | int] | None = None, ok: tuple[int, ...] = (200,)
    ) -> None:
        url = f"{path}?{urlencode(query)}" if query else path
        self.read(url, path, self.bearer(self.account), ok)

    @staticmethod
    def _days() -> dict[str, str | int]:
        """A range of Bogotá days ending today (the default is the last 30)."""
        today = datetime.now(BOGOTA).date()
        days = random.choice((7, 14, 30))
        return {"date_from": (today - timedelta(days=days - 1)).isoformat(), "date_to": str(today)}

    @task(2)
    def users_count(self) -> None:
        self._read(USERS_COUNT)

    @task(2)
    def active_users(self) -> None:
        self._read(USERS_ACTIVE)

    @task(1)
    def latest_user(self) -> None:
        self._read(USERS_LATEST, ok=(200, 204))  # 204: no rider yet

    @task(2)
    def trips_total(self) -> None:
        self._read(TRIPS_TOTAL)

    @task(2)
    def trips_by_locality(self) -> None:
        self._read(TRIPS_LOCALITIES)

    @task(2)
    def revenue(self) -> None:
        self._read(REVENUE)

    @task(2)
    def revenue_by_locality(self) -> None:
        self._read(REVENUE_LOCALITIES)

    @task(2)
    def trips_by_hour(self) -> None:
        self._read(TRIPS_BY_HOUR, self._days())

    @task(2)
    def revenue_by_day(self) -> None:
        self._read(REVENUE_BY_DAY, self._days())

    @task(2)
    def top_stations(self) -> None:
        self._read(TOP_STATIONS, self._days() | {"limit": 10})

    @task(2)
    def shares(self) -> None:
        self._read(SHARES, self._days())


class Admin(_Persona):
    """An admin watching the cache and the health of the service."""

    weight = 6
    pause_s = (3.0, 8.0)
    # TOKEN: unless the run was given a ready admin token.
    endpoints = (TOKEN, CACHE_STATS, CACHE_HEALTH, CACHE_KEYS, HEALTH, HEALTH_DB, HEALTH_CACHE)

    def _admin(self) -> dict[str, str]:
        admin = self.shared.admin
        # Signed in like everyone else, unless the run was given a ready token.
        return admin.header() if admin.account is None else self.bearer(admin.account)

    @task(4)
    def cache_stats(self) -> None:
        self.read(CACHE_STATS, CACHE_STATS, self._admin())

    @task(2)
    def cache_health(self) -> None:
        self.read(CACHE_HEALTH, CACHE_HEALTH, self._admin())

    @task(1)
    def cache_keys(self) -> None:
        self.read(f"{CACHE_KEYS}?limit=50", CACHE_KEYS, self._admin())

    @task(3)
    def health(self) -> None:
        self.read(HEALTH, HEALTH)

    @task(2)
    def database_health(self) -> None:
        self.read(HEALTH_DB, HEALTH_DB)

    @task(2)
    def cache_health_check(self) -> None:
        self.read(HEALTH_CACHE, HEALTH_CACHE)


TOTAL_WEIGHT = sum(p.weight for p in (MobileAppRider, RiderAtDevices, DataAnalyst, Admin))
