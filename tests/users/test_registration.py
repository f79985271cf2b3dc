"""Registering riders: one rider per identity document."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import count_rows

pytestmark = pytest.mark.usefixtures("clean")


async def test_a_second_rider_with_the_same_document_is_409(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await client.post(
        "/api/v1/users", json={"full_name": "Ana Rider", "document_id": "CC-1020304050"}
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/api/v1/users", json={"full_name": "Otro Nombre", "document_id": "CC-1020304050"}
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": "conflict",
        "detail": "document_id: a rider with this document is already registered",
    }
    assert await count_rows(app, "users") == 1
    # The first rider can still get the one personalized card the document allows.
    card = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": first.json()["user_id"]}
    )
    assert card.status_code == 201, card.text
