"""The locust load test: its personas, and a short headless run against the real server.

Locust monkey-patches the standard library with gevent when it is imported, which would break
the asyncio tests sharing this pytest process: the locustfile is imported and run only in
subprocesses.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import ServerUrls, drop_namespace
from travel_recharge.bench.server import authorization, bench_server
from travel_recharge.bench.taps import load_fixture
from travel_recharge.kit.scratch import libpq_url, scratch_database
from travel_recharge.security.roles import Role
from travel_recharge.seed.load import seed
from travel_recharge.seed.options import SeedOptions

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"
LOCUST = Path(sys.executable).parent / "locust"

# Prints each persona of the locustfile: weight, task names with their weights, endpoints.
# Loaded as `locust -f` loads it (the file's directory on sys.path, for its sibling modules),
# which also keeps only the concrete (not abstract) user classes the file defines or imports.
_DESCRIBE = """
import json, sys
from collections import Counter
from locust.util.load_locustfile import load_locustfile

user_classes, _ = load_locustfile(sys.argv[1])
personas = {
    name: {
        "weight": value.weight,
        "tasks": Counter(t.__name__ for t in value.tasks),
        "endpoints": list(value.endpoints),
    }
    for name, value in user_classes.items()
}
print(json.dumps(personas))
"""

# What the issue asks of each persona (the seed's load-test personas).
RIDER_READS = {
    "/api/v1/cards/{card_id}/balance",
    "/api/v1/cards/{card_id}/history",
    "/api/v1/stations/{station_id}/arrivals",
    "/api/v1/routes/{route_code}/details",
    "/api/v1/stations/{station_code}/details",
}
DEVICE_WRITES = {"/api/v1/trips/start", "/api/v1/trips/end", "/api/v1/cards/recharge"}
ANALYST_GROUPS = ("/api/v1/users/", "/api/v1/trips/total", "/api/v1/finance/", "/api/v1/analytics/")
ADMIN_READS = {"/api/v1/cache/stats", "/api/v1/health"}
TOKEN = "/api/v1/auth/token"


class Persona(TypedDict):
    weight: int
    tasks: dict[str, int]  # task name -> weight
    endpoints: list[str]


def _personas() -> dict[str, Persona]:
    described = subprocess.run(
        [sys.executable, "-c", _DESCRIBE, str(LOCUSTFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    personas: dict[str, Persona] = json.loads(described.stdout)
    return personas


def test_locustfile_has_the_seed_personas_and_their_tasks() -> None:
    personas = _personas()

    assert {name: p["weight"] for name, p in personas.items()} == {
        "MobileAppRider": 55,
        "RiderAtDevices": 28,
        "DataAnalyst": 11,
        "Admin": 6,
    }
    tasks = {name: set(p["tasks"]) for name, p in personas.items()}
    assert tasks == {
        "MobileAppRider": {
            "balance",
            "recharge_history",
            "card_trips",
            "ledger",
            "arrivals",
            "station_details",
            "route_details",
            "station_alerts",
            "stations_of_locality",
            "fares",
        },
        "RiderAtDevices": {"tap_in_at_station", "tap_on_bus", "end_trip", "recharge"},
        "DataAnalyst": {
            "users_count",
            "active_users",
            "latest_user",
            "trips_total",
            "trips_by_locality",
            "revenue",
            "revenue_by_locality",
            "trips_by_hour",
            "revenue_by_day",
            "top_stations",
            "shares",
        },
        "Admin": {
            "cache_stats",
            "cache_health",
            "cache_keys",
            "health",
            "database_health",
            "cache_health_check",
        },
    }
    # A rider checks the balance most, and a device taps more than anything else.
    rider_tasks = personas["MobileAppRider"]["tasks"]
    assert max(rider_tasks.items(), key=lambda t: t[1])[0] == "balance"
    device_tasks = personas["RiderAtDevices"]["tasks"]
    assert max(device_tasks.items(), key=lambda t: t[1])[0] == "tap_in_at_station"

    endpoints = {name: set(p["endpoints"]) for name, p in personas.items()}
    assert RIDER_READS | {TOKEN, "/api/v1/auth/me"} <= endpoints["MobileAppRider"]
    assert DEVICE_WRITES | {TOKEN} <= endpoints["RiderAtDevices"]
    for group in ANALYST_GROUPS:
        assert any(e.startswith(group) for e in endpoints["DataAnalyst"]), group
    assert endpoints["Admin"] >= ADMIN_READS


@dataclass(frozen=True)
class AfterRun:
    locust_taps: int
    locust_trip_ends: int
    recharges: int
    ledger_mismatches: int
    locust_accounts: int
    active_locust_accounts: int
    taps_not_by_their_validator: int


async def _after_run(database_url: str) -> AfterRun:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        taps = await connection.fetchrow(
            "SELECT count(*) AS taps, count(ended_at) AS ends FROM trips "
            "WHERE validator_id LIKE 'LOCUST-%'"
        )
        accounts = await connection.fetchrow(
            "SELECT count(*) AS made, count(*) FILTER (WHERE active) AS active FROM accounts "
            "WHERE login LIKE 'locust-%'"
        )
        mismatches = await connection.fetchval(
            "SELECT count(*) FROM cards c LEFT JOIN (SELECT card_id, sum(amount) AS s "
            "FROM ledger_entries GROUP BY card_id) l ON l.card_id = c.id "
            "WHERE c.balance <> coalesce(l.s, 0)"
        )
        # Each validator account sends the taps of its own validator, and each trip says so.
        not_bound = await connection.fetchval(
            "SELECT count(*) FROM trips t LEFT JOIN accounts a ON a.id = t.account_id"
            " WHERE t.validator_id LIKE 'LOCUST-%'"
            " AND a.validator_id IS DISTINCT FROM t.validator_id"
        )
        return AfterRun(
            locust_taps=taps["taps"],
            locust_trip_ends=taps["ends"],
            recharges=await connection.fetchval("SELECT count(*) FROM recharges"),
            ledger_mismatches=mismatches,
            locust_accounts=accounts["made"],
            active_locust_accounts=accounts["active"],
            taps_not_by_their_validator=not_bound,
        )
    finally:
        await connection.close()


def _spawned(log: str) -> dict[str, int]:
    """The users of each persona, from locust's "All users spawned: {...}" line."""
    line = next(line for line in log.splitlines() if "All users spawned:" in line)
    spawned: dict[str, int] = json.loads(line.split("All users spawned:", 1)[1].split("(")[0])
    return spawned


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.e2e
def test_headless_run_has_no_failures(test_servers: ServerUrls, tmp_path: Path) -> None:
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    namespace = f"{test_servers.namespace}load{uuid.uuid4().hex[:8]}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TR_", "LOCUST_"))}
    with scratch_database(test_servers.server_database_url, "tr_load") as database_url:
        seeded = seed(
            database_url,
            SeedOptions(users=40, days=2, random_seed=42, until=today, workers=1),
            progress=False,
        )
        # The account the admin token below names, so that no account of the run takes its
        # id (deactivating that one at the end would revoke the admin's token).
        asyncio.run(load_fixture(database_url, "account_fixture.sql", {}))
        served = {
            "TR_DATABASE_URL": database_url,
            "TR_REDIS_URL": test_servers.redis_url,
            "TR_CACHE_NAMESPACE": namespace,
        }
        try:
            with bench_server(served, workers=1) as port:
                run = subprocess.run(
                    [
                        str(LOCUST),
                        "-f",
                        str(LOCUSTFILE),
                        "--headless",
                        "--users",
                        "16",
                        "--spawn-rate",
                        "16",
                        "--run-time",
                        "12s",
                        # Users finish the task in hand when the time is up.
                        "--stop-timeout",
                        "10s",
                        "--host",
                        f"http://127.0.0.1:{port}",
                        "--csv",
                        str(tmp_path / "locust"),
                        "--only-summary",
                    ],
                    env=environment
                    | {
                        "LOCUST_DATABASE_URL": database_url,
                        # Signed with the key bench_server gives the server.
                        "LOCUST_ADMIN_TOKEN": authorization(Role.admin)["Authorization"],
                        "LOCUST_THINK_TIME": "0.05",
                        # Every recharge is retried: the retries' check below then does not
                        # hang on how many recharges a loaded machine makes in the run.
                        "LOCUST_RECHARGE_RETRY_SHARE": "1",
                    },
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
        finally:
            asyncio.run(drop_namespace(test_servers.redis_url, namespace))
        after = asyncio.run(_after_run(database_url))

    assert run.returncode == 0, run.stderr[-4000:]
    stats = {row["Name"]: row for row in _rows(tmp_path / "locust_stats.csv")}
    counts = {name: int(row["Request Count"]) for name, row in stats.items()}
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert _rows(tmp_path / "locust_failures.csv") == []
    assert _rows(tmp_path / "locust_exceptions.csv") == []
    # Every persona ran its main endpoints.
    for endpoint in RIDER_READS | DEVICE_WRITES | ADMIN_READS | {TOKEN, "/api/v1/auth/me"}:
        assert counts.get(endpoint, 0) > 0, endpoint
    for group in ANALYST_GROUPS:
        assert sum(n for name, n in counts.items() if name.startswith(group)) > 0, group
    # Nothing was requested that no persona declares.
    declared = {e for p in _personas().values() for e in p["endpoints"]}
    assert set(counts) - {"Aggregated"} <= declared

    # Each tap counted made one trip, each trip end ended one, each recharge credited once
    # (its retries nothing). Locust can still cut one request per user when it stops a user
    # that is waking from its pause: the server made it, the statistics never saw it.
    unseen = {
        "taps": after.locust_taps - counts["/api/v1/trips/start"],
        "trip ends": after.locust_trip_ends - counts["/api/v1/trips/end"],
        "recharges": after.recharges - seeded.recharges - counts["/api/v1/cards/recharge"],
    }
    assert min(unseen.values()) >= 0, unseen
    assert sum(unseen.values()) <= _spawned(run.stderr)["RiderAtDevices"], unseen
    assert counts.get("/api/v1/cards/recharge [retry]", 0) > 0
    assert after.ledger_mismatches == 0
    assert after.taps_not_by_their_validator == 0
    # The run's accounts were made, and deactivated when locust quit.
    assert after.locust_accounts > 0
    assert after.active_locust_accounts == 0
