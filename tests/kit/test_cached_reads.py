"""A cached GET is answered from Redis alone: no session opened, no pool checkout.

The pool's own checkout events count every connection any request takes, and the session
factories' class is swapped for a counting subclass of the real AsyncSession, so a view
served from Redis must leave both counts where they were, while a miss must move them (or
the counters are blind).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Network
from tests.money import new_card, recharge
from travel_recharge.kit.db import Database


@contextmanager
def counting(database: Database) -> Iterator[dict[str, int]]:
    """Sessions opened and connections taken from the request pools while the block ran."""
    count = {"sessions": 0, "checkouts": 0}

    def checked_out(*_: object) -> None:
        count["checkouts"] += 1

    class CountedSession(AsyncSession):
        def __init__(self, *args: object, **kwargs: object) -> None:
            count["sessions"] += 1
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    factories = (database.read_sessions, database.write_sessions)
    pools = {id(e.sync_engine.pool): e for e in (database.primary, database.replica) if e}
    for engine in pools.values():
        event.listen(engine.sync_engine.pool, "checkout", checked_out)
    for factory in factories:
        factory.class_ = CountedSession
    try:
        yield count
    finally:
        for factory in factories:
            factory.class_ = AsyncSession
        for engine in pools.values():
            event.remove(engine.sync_engine.pool, "checkout", checked_out)


async def _paths(client: httpx.AsyncClient, network: Network) -> list[str]:
    card = await new_card(client)
    assert (await recharge(client, card, 20_000, point=network.counter)).status_code == 201
    return [
        "/api/v1/fares",
        f"/api/v1/cards/{card}/balance",
        f"/api/v1/cards/{card}/history",
        f"/api/v1/trips/card/{card}",
        "/api/v1/trips/total",
        "/api/v1/users/count",
        "/api/v1/analytics/top-stations",
        "/api/v1/analytics/live",
        "/api/v1/stations/02000/details",
        f"/api/v1/stations/{network.trunk_station}/arrivals",
        "/api/v1/stations?limit=10",
        "/api/v1/routes/B74/details",
        "/api/v1/recharge-points",
        f"/api/v1/stations/{network.trunk_station}/alerts",
    ]


@pytest.mark.parametrize("stage", ["miss", "hit"])
async def test_a_cached_get_takes_no_pool_connection(
    app: FastAPI, client: httpx.AsyncClient, network: Network, stage: str
) -> None:
    paths = await _paths(client, network)
    first: dict[str, bytes] = {}
    with counting(app.state.database) as misses:
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            first[path] = response.content
    # The counters see sessions and connections: computing the views took some (not one
    # per path: a view an earlier test of the session left in Redis may already be there).
    assert misses["sessions"] > 0
    assert misses["checkouts"] > 0
    if stage == "miss":
        return
    with counting(app.state.database) as hits:
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.content == first[path], path
    assert hits == {"sessions": 0, "checkouts": 0}
