"""The ledger is append-only and its verification finds every drifted balance."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Network, ServerUrls
from tests.money import new_card, recharge, tap

pytestmark = pytest.mark.usefixtures("network")

FARE_2026 = 3550
# What a ledger entry says about where its money came from or went.
SOURCE_FIELDS = (
    "kind",
    "amount",
    "balance_after",
    "recharge_id",
    "trip_id",
    "counterpart_card_id",
    "note",
)


def source(entry: dict[str, object]) -> tuple[object, ...]:
    return tuple(entry[f] for f in SOURCE_FIELDS)


async def test_a_cards_ledger_names_the_source_of_each_entry_newest_first_by_page(
    client: httpx.AsyncClient, network: Network
) -> None:
    card_id = await new_card(client, "personalized")
    recharged = await recharge(client, card_id, 10_000)
    tapped = await tap(client, card_id, station_id=network.trunk_station)
    assert (recharged.status_code, tapped.status_code) == (201, 201)
    blocked = await client.post(f"/api/v1/cards/{card_id}/block", json={"reason": "lost"})
    assert blocked.status_code == 200, blocked.text
    replaced = await client.post(
        f"/api/v1/cards/{card_id}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert replaced.status_code == 201, replaced.text

    left = 10_000 - FARE_2026
    replacement = replaced.json()["new_card"]["card_id"]
    moved = "balance moved to the replacement card"
    expected = [
        ("balance_transfer", -left, 0, None, None, replacement, moved),
        ("fare", -FARE_2026, left, None, tapped.json()["trip_id"], None, None),
        ("recharge", 10_000, 10_000, recharged.json()["recharge_id"], None, None, None),
    ]
    ledger = f"/api/v1/cards/{card_id}/ledger"
    assert [source(e) for e in (await client.get(ledger)).json()["entries"]] == expected
    for offset, entry in enumerate(expected):
        page = (await client.get(ledger, params={"limit": 1, "offset": offset})).json()
        assert [source(e) for e in page["entries"]] == [entry]


@pytest.mark.ledger_tampered
async def test_verification_reports_a_tampered_balance(
    client: httpx.AsyncClient, app: FastAPI, network: Network
) -> None:
    honest = await new_card(client)
    tampered = await new_card(client)
    await recharge(client, honest, 10000)
    await recharge(client, tampered, 10000)
    await tap(client, honest, station_id=network.trunk_station)
    clean = (await client.get("/api/v1/admin/ledger/verify")).json()
    assert clean == {"ok": True, "cards_checked": 2, "mismatches": []}

    async with app.state.database.primary.begin() as connection:
        await connection.execute(
            text("UPDATE cards SET balance = 99999 WHERE id = :id"), {"id": tampered}
        )
    report = (await client.get("/api/v1/admin/ledger/verify")).json()
    assert report["ok"] is False
    assert report["mismatches"] == [
        {
            "card_id": tampered,
            "stored_balance": 99999,
            "ledger_sum": 10000,
            "last_balance_after": 10000,
        }
    ]


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_entries SET amount = 1", "DELETE FROM ledger_entries"]
)
async def test_ledger_entries_cannot_be_rewritten(
    client: httpx.AsyncClient, app: FastAPI, statement: str
) -> None:
    card_id = await new_card(client)
    await recharge(client, card_id, 5000)
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.state.database.primary.begin() as connection:
            await connection.exec_driver_sql(statement)


async def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.ledger_tampered
async def test_ledger_verify_command_exit_code(
    client: httpx.AsyncClient, app: FastAPI, test_servers: ServerUrls
) -> None:
    card_id = await new_card(client)
    await recharge(client, card_id, 5000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_DATABASE_URL": test_servers.database_url, "TR_REDIS_URL": test_servers.redis_url}
    command = [str(Path(sys.executable).parent / "travel-recharge"), "ledger", "verify"]
    ok = await run(command, env)
    assert ok.returncode == 0, ok.stderr
    assert '"ok": true' in ok.stdout

    async with app.state.database.primary.begin() as connection:
        await connection.execute(
            text("UPDATE cards SET balance = 1 WHERE id = :id"), {"id": card_id}
        )
    drifted = await run(command, env)
    assert drifted.returncode == 1
    assert f'"card_id": {card_id}' in drifted.stdout
