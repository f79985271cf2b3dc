"""Alert management for operators: create, amend, resolve. HTTP only.

Reading alerts is public (network.router); every route here needs the operator role.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.db import UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.network.alerts import service as alerts
from travel_recharge.network.schemas import AlertCreate, AlertId, AlertOut, AlertUpdate
from travel_recharge.security import Role, allow

operator_router = APIRouter(
    prefix="/api/v1/alerts",
    tags=["alerts"],
    route_class=StrictJSONRoute,
    dependencies=[allow("operations", Role.operator)],
)


@operator_router.post(
    "", status_code=201, response_model=AlertOut, responses=error_responses(404, 422)
)
async def create_alert(request: AlertCreate, uow: UnitOfWorkDep, cache: CacheDep) -> AlertOut:
    """Publish an alert for a station, a route, or a route at one station."""
    return await alerts.create(uow, cache, request, datetime.now(UTC))


@operator_router.patch(
    "/{alert_id}", response_model=AlertOut, responses=error_responses(404, 409, 422)
)
async def update_alert(
    alert_id: AlertId, request: AlertUpdate, uow: UnitOfWorkDep, cache: CacheDep
) -> AlertOut:
    """Change an unresolved alert's message, severity, cause, effect or end."""
    return await alerts.update(uow, cache, alert_id, request, datetime.now(UTC))


@operator_router.post(
    "/{alert_id}/resolve", response_model=AlertOut, responses=error_responses(404, 409, 422)
)
async def resolve_alert(alert_id: AlertId, uow: UnitOfWorkDep, cache: CacheDep) -> AlertOut:
    """Mark an alert resolved: it stops showing at once and can no longer change."""
    return await alerts.resolve(uow, cache, alert_id, datetime.now(UTC))
