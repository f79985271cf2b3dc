"""The deny list for validators: HTTP only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from travel_recharge.cards.deny_list import service
from travel_recharge.cards.deny_list.schemas import DenyListOut
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import ReadSessionDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.ids import MAX_ID
from travel_recharge.security import Role, allow

router = APIRouter(prefix="/api/v1/cards", tags=["cards"], route_class=StrictJSONRoute)

Since = Annotated[
    int | None,
    Query(ge=0, le=MAX_ID, description="the version the validator holds; none: the whole list"),
]


@router.get(
    "/deny-list",
    response_model=DenyListOut,
    responses=error_responses(422),
    # Validators sync within their tap limits; operators look at what the validators get.
    dependencies=[allow("taps", Role.validator, Role.operator)],
)
async def deny_list(
    session: ReadSessionDep, settings: SettingsDep, since: Since = None
) -> DenyListOut:
    """The cards validators must refuse: the changes since a version, or the whole list."""
    return await service.deny_list(session, since, settings.deny_list_max_changes)
