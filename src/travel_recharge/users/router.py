"""Rider registration."""

from __future__ import annotations

from fastapi import APIRouter

from travel_recharge.kit.db import UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.security import Role, allow
from travel_recharge.users import service
from travel_recharge.users.schemas import UserCreate, UserOut

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=StrictJSONRoute)


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(409, 422),
    dependencies=[allow("operations", Role.operator)],
)
async def register_user(request: UserCreate, uow: UnitOfWorkDep) -> UserOut:
    """Register a rider, who can then own one personalized card."""
    return await service.register(uow.session, request)
