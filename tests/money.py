"""Small helpers for money-path tests: they go through the HTTP API like a client would."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx


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
