"""Simulator endpoints for operators: status, start, stop, and removing simulated data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.security import CurrentPrincipal, Role, allow
from travel_recharge.simulator.schemas import (
    SimulatedDataRemoved,
    SimulationStart,
    SimulatorStatus,
)
from travel_recharge.simulator.service import Simulator

router = APIRouter(
    prefix="/api/v1/simulator",
    tags=["simulator"],
    route_class=StrictJSONRoute,
    dependencies=[allow("operations", Role.operator)],
)


async def _simulator(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


SimulatorDep = Annotated[Simulator, Depends(_simulator)]


@router.get("", response_model=SimulatorStatus, responses=error_responses(503))
async def simulator_status(simulator: SimulatorDep) -> SimulatorStatus:
    """The state and counters of the current or last run; every worker answers the same."""
    return await simulator.status()


@router.post(
    "/start",
    status_code=202,
    response_model=SimulatorStatus,
    responses=error_responses(403, 409, 503),
)
async def start_simulation(
    request: SimulationStart, simulator: SimulatorDep, principal: CurrentPrincipal
) -> SimulatorStatus:
    """Start the simulator's own riders tapping and recharging through the API at `rate`
    events/s (409 `simulator_disabled` where the settings do not allow it)."""
    return await simulator.start(request, principal)


@router.post("/stop", response_model=SimulatorStatus, responses=error_responses(503))
async def stop_simulation(simulator: SimulatorDep, principal: CurrentPrincipal) -> SimulatorStatus:
    """Stop the running simulation, wherever it runs (stopping a stopped simulator is fine)."""
    return await simulator.stop(principal)


@router.delete("/data", response_model=SimulatedDataRemoved, responses=error_responses(409, 503))
async def remove_simulated_data(simulator: SimulatorDep) -> SimulatedDataRemoved:
    """Delete every simulated row: riders, cards, their trips, recharges and ledger entries."""
    return await simulator.remove_data()
