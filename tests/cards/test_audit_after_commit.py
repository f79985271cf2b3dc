"""A block, an unblock or a replacement is audited once its transaction has committed: one
rolled back (a lost connection, a failed commit) leaves no audit line claiming it happened."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.money import new_card
from travel_recharge.cards import service
from travel_recharge.cards.schemas import BlockRequest
from travel_recharge.kit.audit import SystemActor
from travel_recharge.kit.db import UnitOfWork

pytestmark = pytest.mark.usefixtures("clean")

ACTOR = SystemActor("test-audit")


def audit_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit.")]


async def status(client: httpx.AsyncClient, card_id: int) -> str:
    response = await client.get(f"/api/v1/cards/{card_id}/balance")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def run(
    app: FastAPI, work: Callable[[UnitOfWork], Awaitable[object]], *, commit: bool
) -> None:
    """The service's work in a unit of work, committed (with its hooks) or rolled back."""
    async with app.state.database.write_sessions() as session:
        uow = UnitOfWork(session)
        await work(uow)
        if commit:
            await uow.commit()
        else:
            await session.rollback()


async def test_block_unblock_and_replace_are_audited_only_when_committed(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="travel_recharge")
    card_id = await new_card(client, "personalized")
    cache = app.state.cache

    def block(uow: UnitOfWork) -> Awaitable[object]:
        return service.block(uow, cache, card_id, BlockRequest(reason="lost"), actor=ACTOR)

    def unblock(uow: UnitOfWork) -> Awaitable[object]:
        return service.unblock(uow, cache, card_id, actor=ACTOR)

    def replace(uow: UnitOfWork) -> Awaitable[object]:
        return service.replace(uow, cache, card_id, uuid.uuid4().hex, actor=ACTOR)

    for work, done, event in (
        (block, "blocked", "audit.card.blocked"),
        (unblock, "active", "audit.card.unblocked"),
        (replace, "replaced", "audit.card.replaced"),
    ):
        before = await status(client, card_id)
        await run(app, work, commit=False)
        assert audit_events(caplog) == [], event
        assert await status(client, card_id) == before
        await run(app, work, commit=True)
        assert audit_events(caplog) == [event]
        assert await status(client, card_id) == done
        caplog.clear()
