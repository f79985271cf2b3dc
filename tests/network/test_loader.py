"""The reference network loads into PostgreSQL once, with stable ids."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import ServerUrls
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.network.loader import load_reference_network

pytestmark = pytest.mark.usefixtures("clean")


async def test_reference_network_loads_once(test_servers: ServerUrls) -> None:
    connection = await asyncpg.connect(libpq_url(test_servers.database_url))
    try:
        counts = await load_reference_network(connection, random_seed=0)
        assert counts.localities == 20
        assert counts.stations == 146 + 7500
        assert counts.routes == 32 + 600
        assert counts.route_stops > 600 * 15
        # 146 counters, a kiosk every 40th of the 7,500 zonal stops, one web channel.
        assert counts.recharge_points == 146 + 188 + 1
        again = await load_reference_network(connection, random_seed=1)
        assert again == counts
        portal = await connection.fetchrow(
            "SELECT id, name, kind FROM stations WHERE code = '02000'"
        )
        assert (portal["name"], portal["kind"]) == ("Portal Norte", "portal")
        first_zonal = await connection.fetchval("SELECT min(id) FROM stations WHERE kind = 'zonal'")
        assert first_zonal == 147
        corridors = await connection.fetch(
            "SELECT DISTINCT corridor FROM stations WHERE corridor IS NOT NULL ORDER BY 1"
        )
        assert [r["corridor"] for r in corridors] == list("ABCDEFGHJKLM")
        next_id = await connection.fetchval(
            "INSERT INTO recharge_points (name, channel) VALUES ('new', 'kiosk') RETURNING id"
        )
        assert next_id == counts.recharge_points + 1
    finally:
        await connection.close()
