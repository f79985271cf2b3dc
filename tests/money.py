"""Small helpers for money-path tests: they go through the HTTP API like a client would."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis


async def new_user(client: httpx.AsyncClient, document: str | None = None) -> int:
    response = await client.post(
        "/api/v1/users",
        json={"full_name": "Ana Rider", "document_id": document or uuid.uuid4().hex[:12]},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["user_id"])


async def new_card(
    client: httpx.AsyncClient, card_type: str = "basic", profile: str | None = None
) -> int:
    body: dict[str, Any] = {"card_type": card_type}
    if card_type == "personalized":
        body["user_id"] = await new_user(client)
    if profile is not None:
        body["profile"] = profile
    response = await client.post("/api/v1/cards", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["card_id"])


async def funded_card(
    client: httpx.AsyncClient, amount: int, card_type: str = "basic", profile: str | None = None
) -> int:
    """A new card holding `amount` (recharged at point 1 when above zero)."""
    card_id = await new_card(client, card_type, profile)
    if amount:
        assert (await recharge(client, card_id, amount)).status_code == 201
    return card_id


async def recharge(
    client: httpx.AsyncClient, card_id: int, amount: int, point: int = 1, key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/v1/cards/recharge",
        json={"card_id": card_id, "amount": amount, "recharge_point_id": point},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def tap(
    client: httpx.AsyncClient,
    card_id: int,
    *,
    station_id: int | None = None,
    route_code: str | None = None,
    at: datetime | None = None,
    validator: str | None = None,
    tap_id: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "card_id": card_id,
        "validator_id": validator or f"V-{uuid.uuid4().hex[:8]}",
        "tap_id": tap_id or str(uuid.uuid4()),
    }
    if station_id is not None:
        body["station_id"] = station_id
    if route_code is not None:
        body["route_code"] = route_code
    if at is not None:
        body["event_time"] = at.isoformat()
    return await client.post("/api/v1/trips/start", json=body)


async def balance(client: httpx.AsyncClient, card_id: int) -> int:
    response = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def plant_cached_balance(redis_url: str, namespace: str, card_id: int, wrong: int) -> None:
    """Overwrite the card's cached balance view with a wrong balance, keeping its generation
    token and expiry (key layout in kit.cache.scripts), so the cache serves it as current.
    The view must have been read once, so that it is cached."""
    redis = Redis.from_url(redis_url)
    try:
        pattern = f"{namespace}:*:cards:{card_id}:f:balance"
        keys = [key async for key in redis.scan_iter(match=pattern, count=500)]
        assert len(keys) == 1, keys
        stored = await redis.get(keys[0])
        assert isinstance(stored, bytes)
        token, expires, payload = stored.decode().split("|", 2)
        view = json.loads(payload)
        view["balance"] = wrong
        planted = "|".join([token, expires, json.dumps(view)])
        assert await redis.set(keys[0], planted, keepttl=True)
    finally:
        await redis.aclose()


@asynccontextmanager
async def cards_held(app: FastAPI, *card_ids: int) -> AsyncIterator[None]:
    """Hold the cards' row locks on a connection of our own until the block ends, so the
    requests started inside it queue on them and then run at once: a race that does not
    depend on how the event loop happens to interleave them."""
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(
            "SELECT id FROM cards WHERE id = ANY($1::bigint[]) FOR UPDATE", (list(card_ids),)
        )
        yield


async def wait_for_lock_waiters(app: FastAPI, count: int, deadline_s: float = 60.0) -> None:
    """Poll until `count` backends of this database wait on a lock (a generous deadline: the
    verdict is the requests' answers, not how long they took to queue)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    waiting = 0
    while loop.time() < give_up:
        async with app.state.database.primary.connect() as connection:
            result = await connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            waiting = int(result.scalar_one())
        if waiting >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{waiting} requests waited on a lock, not {count}")
