"""The tap's direct route (kit.direct): the same access rule, body model, transaction and
answer as POST /api/v1/trips/start, without FastAPI's routing and dependency solving."""

from __future__ import annotations

from starlette.responses import Response

from travel_recharge.kit.db import driver_transaction
from travel_recharge.kit.direct import DirectCall
from travel_recharge.security.access import rule_of
from travel_recharge.security.edge_gate import admit_direct
from travel_recharge.trips.router import TAP_ACCESS, tap_answer
from travel_recharge.trips.schemas import TapIn

_RULE = rule_of(TAP_ACCESS)


async def start_trip(call: DirectCall) -> Response | None:
    admitted = await admit_direct(call, _RULE, TapIn)
    if admitted is None:
        return None  # the route answers: its 401, 403 or 422
    principal, request = admitted
    state = call.state
    async with driver_transaction(state.database) as unit:
        return await tap_answer(request, principal, unit, state.cache, state.settings)
