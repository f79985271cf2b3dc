"""The recharge's direct route (kit.direct): the same access rule, body model, key,
transaction and answer as POST /api/v1/cards/recharge, without FastAPI's routing and
dependency solving."""

from __future__ import annotations

from starlette.responses import Response

from travel_recharge.cards.router import RECHARGE_ACCESS, recharge_answer
from travel_recharge.cards.schemas import RechargeRequest
from travel_recharge.kit.db import driver_transaction
from travel_recharge.kit.direct import DirectCall
from travel_recharge.kit.idempotency import key_of
from travel_recharge.security.access import rule_of
from travel_recharge.security.edge_gate import admit_direct

_RULE = rule_of(RECHARGE_ACCESS)


async def recharge_card(call: DirectCall) -> Response | None:
    key = key_of(call.header(b"idempotency-key"))
    admitted = await admit_direct(call, _RULE, RechargeRequest) if key is not None else None
    if key is None or admitted is None:
        return None  # the route answers: its 401, 403 or 422
    principal, request = admitted
    state = call.state
    async with driver_transaction(state.database) as unit:
        return await recharge_answer(request, key, principal, unit, state.cache)
