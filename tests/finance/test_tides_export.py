"""`travel-recharge export tides`: every tap, recharge and adjustment of a small scenario
built through the API comes out as the ledger says, in files that validate as TIDES."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import frictionless
import httpx
import pytest

from tests.conftest import Network, ServerUrls
from tests.money import new_card, recharge, tap
from travel_recharge.finance.tides.schemas import DEVICES_SCHEMA, FARE_TRANSACTIONS_SCHEMA

pytestmark = pytest.mark.usefixtures("network")

BOGOTA = ZoneInfo("America/Bogota")
STATION_CODES = {1: "02000", 2: "01014", 3: "20001"}  # the `network` fixture's

# The TIDES specification's facts about the fields we write (spec/fare_transactions.schema
# .json and spec/devices.schema.json of TIDES-transit/TIDES): type, required, enumeration.
TIDES_FARE_ACTIONS = [
    "Unknown action type", "Purchase", "Enter", "Exit", "Transfer entrance", "Transfer exit",
    "Add", "New", "Capture", "Extend", "Combine", "Void", "Activate", "Adjust", "Other",
]  # fmt: skip
TIDES_DEVICE_TYPES = [
    "Farebox", "Fare gate", "Fare vending machine", "Passenger counter", "Vehicle location",
    "Other",
]  # fmt: skip
TIDES_FARE_TRANSACTIONS = {
    "transaction_id": ("string", True, None),
    "service_date": ("date", True, None),
    "event_timestamp": ("datetime", True, None),
    "location_ping_id": ("string", False, None),
    "amount": ("number", True, None),
    "currency_type": ("string", False, None),
    "fare_action": ("string", True, TIDES_FARE_ACTIONS),
    "trip_id_performed": ("string", False, None),
    "trip_id_scheduled": ("string", False, None),
    "pattern_id": ("string", False, None),
    "trip_stop_sequence": ("integer", False, None),
    "scheduled_stop_sequence": ("integer", False, None),
    "vehicle_id": ("string", False, None),
    "device_id": ("string", False, None),
    "fare_id": ("string", False, None),
    "stop_id": ("string", False, None),
    "num_riders": ("integer", False, None),
    "fare_media_id": ("string", False, None),  # enumerated: checked below
    "rider_category": ("string", False, None),
    "fare_product": ("string", False, None),
    "fare_period": ("string", False, None),
    "fare_capped": ("boolean", True, None),
    "token_id": ("string", False, None),
    "balance": ("number", False, None),
}
TIDES_DEVICES = {
    "device_id": ("string", True, None),
    "stop_id": ("string", False, None),
    "vehicle_id": ("string", False, None),
    "train_car_id": ("string", False, None),
    "device_type": ("string", False, TIDES_DEVICE_TYPES),
    "device_vendor": ("string", False, None),
    "device_model": ("string", False, None),
    "device_location": ("string", False, None),
}


def _facts(schema: dict[str, Any]) -> dict[str, tuple[str, bool, list[str] | None]]:
    return {
        field["name"]: (
            field["type"],
            field.get("constraints", {}).get("required", False),
            field.get("constraints", {}).get("enum"),
        )
        for field in schema["fields"]
    }


@pytest.mark.parametrize(
    ("ours", "spec"),
    [(FARE_TRANSACTIONS_SCHEMA, TIDES_FARE_TRANSACTIONS), (DEVICES_SCHEMA, TIDES_DEVICES)],
)
def test_our_schemas_are_tides_fields_in_tides_order(
    ours: dict[str, Any], spec: dict[str, tuple[str, bool, list[str] | None]]
) -> None:
    facts = _facts(ours)
    for name, (type_, required, enum) in facts.items():
        spec_type, spec_required, spec_enum = spec[name]
        assert type_ == spec_type, name
        assert required == spec_required, name
        if spec_enum is not None:
            assert enum == spec_enum, name
    # Every field TIDES requires is written, and in the spec's order.
    assert {n for n, (_, required, _) in spec.items() if required} <= set(facts)
    order = list(spec)
    assert [order.index(name) for name in facts] == sorted(order.index(name) for name in facts)


def command_env(servers: ServerUrls) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_DATABASE_URL": servers.database_url, "TR_REDIS_URL": servers.redis_url}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def export_command(directory: Path, first: date, last: date) -> list[str]:
    return [
        sys.executable,
        "-m",
        "travel_recharge.cli",
        "export",
        "tides",
        "--from",
        first.isoformat(),
        "--to",
        last.isoformat(),
        str(directory),
    ]


async def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=600
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def local_date(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(BOGOTA).date().isoformat()


async def ledger_of(client: httpx.AsyncClient, card_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/cards/{card_id}/ledger", params={"limit": 100})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def tapped(client: httpx.AsyncClient, card_id: int, **kwargs: Any) -> dict[str, Any]:
    response = await tap(client, card_id, **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_ledger_entry_is_a_tides_row_as_the_api_says(
    client: httpx.AsyncClient, network: Network, test_servers: ServerUrls, tmp_path: Path
) -> None:
    regular = await new_card(client, "personalized")
    student = await new_card(client, "personalized", profile="student_jovenes_e")
    borrower = await new_card(client, "personalized")
    late = await new_card(client)
    await recharge(client, regular, 10000)
    await recharge(client, late, 10000)
    taps = {
        regular: [
            await tapped(client, regular, station_id=network.trunk_station, validator="V-GATE-1"),
            await tapped(
                client,
                regular,
                station_id=network.zonal_stop,
                route_code=network.zonal_route,
                validator="V-BUS-7",
            ),
        ],
        student: [
            await tapped(client, student, station_id=network.trunk_station, validator="V-GATE-1")
        ],
        # A trip on credit, then a recharge that first repays it.
        borrower: [
            await tapped(
                client, borrower, station_id=network.other_trunk_station, validator="V-GATE-2"
            )
        ],
    }
    await recharge(client, borrower, 10000)
    replaced = await client.post(
        f"/api/v1/cards/{regular}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert replaced.status_code == 201, replaced.text
    replacement = replaced.json()["new_card"]["card_id"]
    # A validator that was offline sends a tap two days old: priced and posted now, but it
    # belongs to its own service date, outside the export.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    old_tap = await tapped(client, late, station_id=network.trunk_station, at=two_days_ago)

    today = datetime.now(BOGOTA).date()
    env = command_env(test_servers)
    done = await run(export_command(tmp_path, today - timedelta(days=1), today + timedelta(1)), env)
    assert done.returncode == 0, done.stderr

    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])

    rows = read_csv(tmp_path / "fare_transactions.csv")
    assert list(rows[0]) == [field["name"] for field in FARE_TRANSACTIONS_SCHEMA["fields"]]
    expected = []
    profiles = {regular: "regular", replacement: "regular", student: "student_jovenes_e"}
    profiles |= {borrower: "regular", late: "regular"}
    for card_id in (regular, replacement, student, borrower, late):
        by_trip = {t["trip_id"]: t for t in taps.get(card_id, [])}
        for entry in await ledger_of(client, card_id):
            common = {
                "amount": str(entry["amount"]),
                "balance": str(entry["balance_after"]),
                "token_id": str(card_id),
                "rider_category": profiles[card_id],
                "currency_type": "COP",
                "fare_media_id": "Smart card or ticket",
                "fare_capped": "false",
            }
            if entry["kind"] == "fare":
                if entry["trip_id"] == old_tap["trip_id"]:
                    continue
                trip = by_trip[entry["trip_id"]]
                expected.append(
                    common
                    | {
                        "transaction_id": trip["tap_id"],
                        "service_date": local_date(trip["event_time"]),
                        "fare_action": "Transfer entrance" if trip["is_transfer"] else "Enter",
                        "device_id": trip["validator_id"],
                        "stop_id": STATION_CODES[trip["station_id"]],
                        "num_riders": "1",
                        "fare_product": trip["fare_kind"],
                    }
                )
            else:
                expected.append(
                    common
                    | {
                        "transaction_id": f"ledger-{entry['entry_id']}",
                        "service_date": local_date(entry["created_at"]),
                        "fare_action": "Add" if entry["kind"] == "recharge" else "Adjust",
                        "device_id": "recharge-point-1" if entry["recharge_id"] else "",
                        "stop_id": "",
                        "num_riders": "",
                        "fare_product": entry["kind"],
                    }
                )
    exported = [{k: v for k, v in row.items() if k != "event_timestamp"} for row in rows]
    key = lambda row: row["transaction_id"]  # noqa: E731
    assert sorted(exported, key=key) == sorted(expected, key=key)
    # The scenario's story, read back from the file.
    actions = {(r["token_id"], r["fare_action"], r["amount"], r["fare_product"]) for r in rows}
    assert (str(regular), "Transfer entrance", "0", "transfer") in actions
    assert (str(student), "Enter", "0", "free_trip") in actions
    assert (str(borrower), "Enter", "-3550", "credit") in actions
    assert (str(borrower), "Adjust", "3550", "credit_repayment") in actions
    assert (str(borrower), "Add", "6450", "recharge") in actions
    assert (str(replacement), "Adjust", "6450", "balance_transfer") in actions
    assert old_tap["tap_id"] not in {row["transaction_id"] for row in rows}
    # Timestamps are the events' own, in UTC.
    stamps = {row["transaction_id"]: row["event_timestamp"] for row in rows}
    first_tap = taps[regular][0]
    assert datetime.fromisoformat(stamps[first_tap["tap_id"]]) == datetime.fromisoformat(
        first_tap["event_time"]
    ).replace(microsecond=0)

    devices = {row["device_id"]: row for row in read_csv(tmp_path / "devices.csv")}
    assert devices["V-GATE-1"] | {} == {
        "device_id": "V-GATE-1",
        "stop_id": "02000",
        "device_type": "Fare gate",
        "device_location": "Entrance (not located on a vehicle)",
    }
    assert (devices["V-BUS-7"]["device_type"], devices["V-BUS-7"]["stop_id"]) == ("Farebox", "")
    assert devices["recharge-point-1"]["device_type"] == "Other"
    # The old tap's validator read nothing in the range.
    assert old_tap["validator_id"] not in devices
    assert done.stdout.startswith(f"wrote {len(rows)} fare transactions and {len(devices)} ")


async def test_the_to_date_comes_before_the_from_date(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    today = datetime.now(BOGOTA).date()
    done = await run(
        export_command(tmp_path, today, today - timedelta(days=1)), command_env(test_servers)
    )
    assert done.returncode == 2
    assert "before --from" in done.stderr
    assert not (tmp_path / "fare_transactions.csv").exists()


# Runs the command in this interpreter and reports the process's peak resident memory.
PEAK_RSS_RUNNER = (
    "import resource, sys\n"
    "from travel_recharge.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
TAPS = 400_000


async def export_peak_rss_kib(env: dict[str, str], directory: Path, first: date, last: date) -> int:
    command = [sys.executable, "-c", PEAK_RSS_RUNNER, *export_command(directory, first, last)[3:]]
    done = await run(command, env)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.rsplit("peak_rss_kib ", 1)[1].split()[0])


async def test_memory_does_not_grow_with_the_rows_exported(
    app: Any, test_servers: ServerUrls, tmp_path: Path
) -> None:
    card_id = await new_card_row(app)
    async with app.state.database.primary.begin() as connection:
        # Rows for the export only: the rollup triggers are not what is measured here.
        await connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        await connection.exec_driver_sql(
            "INSERT INTO trips (tap_id, card_id, validator_id, station_id, service_kind,"
            " event_time, fare_policy_id, fare_charged, fare_kind, is_transfer, credit_used,"
            " benefit_trip_used, transfers_in_window, balance_after)"
            " SELECT gen_random_uuid(), $1, 'V-' || (g % 2000), 1 + g % 3, 'trunk',"
            "  now() - (g % 3600) * interval '1 second',"
            "  (SELECT id FROM fare_policies ORDER BY effective_from DESC LIMIT 1),"
            "  0, 'free_trip', false, false, true, 0, 0"
            " FROM generate_series(1, $2) AS g",
            (card_id, TAPS),
        )
    env = command_env(test_servers)
    today = datetime.now(BOGOTA).date()
    empty_day = date(2020, 1, 1)
    started = time.monotonic()
    small = await export_peak_rss_kib(env, tmp_path / "small", empty_day, empty_day)
    startup = time.monotonic() - started  # reported, never asserted
    started = time.monotonic()
    large = await export_peak_rss_kib(
        env, tmp_path / "large", today - timedelta(days=1), today + timedelta(days=1)
    )
    seconds = time.monotonic() - started  # reported, never asserted
    written = tmp_path / "large" / "fare_transactions.csv"
    with written.open(encoding="utf-8") as file:
        assert sum(1 for _ in file) == TAPS + 1
    size_kib = written.stat().st_size // 1024
    print(
        f"peak RSS {small} KiB (0 rows), {large} KiB ({TAPS} rows, {size_kib} KiB of CSV,"
        f" {seconds:.1f} s, of which about {startup:.1f} s start the command)"
    )
    # Holding the rows (or the file) would add at least the file's size; streaming adds a
    # few chunks.
    assert size_kib > 40_000
    assert large - small < size_kib // 4


async def new_card_row(app: Any) -> int:
    async with app.state.database.primary.begin() as connection:
        result = await connection.exec_driver_sql(
            "INSERT INTO cards (card_number, card_type) VALUES ('9990000000000001', 'basic')"
            " RETURNING id"
        )
        return int(result.scalar_one())
