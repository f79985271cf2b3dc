"""The smallest world a fault test's load needs, on a database of its own: the schema, one
trunk station, one point of sale, the account the test tokens name, and funded cards."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.faults.load import ClientLog, Device, Workload
from travel_recharge.kit.scratch import admin_execute, libpq_url, with_database
from travel_recharge.migrations import upgrade_to_head

STATION_ID = 1
POINT_ID = 1
FUNDING = 100_000  # pesos per card: no 402 in a run, far below the 418,000 maximum

_STATEMENTS = (
    "INSERT INTO localities (code, name) VALUES ('11', 'Suba')",
    "INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude, longitude)"
    " VALUES (1, '02000', 'Portal Norte', 'portal', 'B', '11', 4.754, -74.046)",
    "INSERT INTO recharge_points (id, name, locality_code, channel)"
    " VALUES (1, 'Taquilla Portal Norte', '11', 'counter')",
    "SELECT setval('recharge_points_id_seq', 1)",
)


def create_database(server_url: str, name: str, account: tuple[int, str]) -> str:
    """A migrated database `name` on the server with the world's reference rows; its URL.

    `account` (id, login) is the account the tests' tokens name: trips and recharges
    refer to it. It is inactive with no usable secret, as tests.conftest makes it."""
    asyncio.run(admin_execute(server_url, f'CREATE DATABASE "{name}"'))
    url = with_database(server_url, name)
    upgrade_to_head(url)
    asyncio.run(_fill(url, account))
    return url


async def _fill(url: str, account: tuple[int, str]) -> None:
    connection = await asyncpg.connect(libpq_url(url))
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO accounts (id, login, kind, role, secret_hash, active)"
                " VALUES ($1, $2, 'person', 'admin', '!', false)",
                *account,
            )
            await connection.execute(
                "SELECT setval('accounts_id_seq', greatest(last_value, $1)) FROM accounts_id_seq",
                account[0],
            )
            for statement in _STATEMENTS:
                await connection.execute(statement)
    finally:
        await connection.close()


def funded_workload(base_url: str, headers: dict[str, str], log: ClientLog, count: int) -> Workload:
    """`count` new cards, each funded by a recharge that goes into `log` like any other."""
    cards = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(count):
            response = client.post("/api/v1/cards", json={"card_type": "basic"})
            assert response.status_code == 201, response.text
            cards.append(int(response.json()["card_id"]))
    device = Device(base_url, headers, log)
    try:
        for card in cards:
            funded = device.recharge(card, FUNDING, POINT_ID)
            assert funded.acknowledged is not None, funded.attempts
    finally:
        device.close()
    return Workload(base_url, headers, cards, STATION_ID, POINT_ID)
