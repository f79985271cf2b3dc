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

The code lives in this file's sibling modules (locust puts the locustfile's directory on
sys.path while it imports it, so they are imported by their plain names): options (the
command line), api (request names), dataset (ids from the database), accounts (the admin,
accounts and tokens), run (what the users share), startup (the set-up), persona (what every
persona does), riders and back_office (the four personas). This file is what locust loads:
the user classes and the event hooks.
"""

from __future__ import annotations

import logging
from typing import Any

from accounts import deactivate_accounts
from api import SetupError
from back_office import Admin, DataAnalyst
from locust import events
from locust.env import Environment
from options import add_options
from riders import MobileAppRider, RiderAtDevices
from run import start_run, started_run
from startup import set_up

__all__ = ["Admin", "DataAnalyst", "MobileAppRider", "RiderAtDevices"]

logger = logging.getLogger("loadtest")

events.init_command_line_parser.add_listener(add_options)  # type: ignore[no-untyped-call]


@events.init.add_listener  # type: ignore[untyped-decorator]
def _on_init(environment: Environment, **_: Any) -> None:
    """Set up before the run: --run-time then measures the load alone."""
    try:
        start_run(set_up(environment))
    except SetupError as exc:
        logger.error("loadtest.setup_failed %s", exc)
        raise SystemExit(2) from exc
    except Exception as exc:  # the database or the API answered something unexpected
        logger.exception("loadtest.setup_failed")
        raise SystemExit(2) from exc


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _on_quitting(environment: Environment, **_: Any) -> None:
    """Deactivate this run's accounts: their secrets die with the process."""
    run = started_run()
    if run is not None and environment.host:
        deactivate_accounts(environment.host, run.admin, run.created_logins)
