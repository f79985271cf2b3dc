"""Offline batch endpoints: HTTP only; the rules live in trips.batches.service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import PrimaryReadSessionDep, database_of
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.ids import MAX_ID
from travel_recharge.kit.pagination import PageDep
from travel_recharge.security import CurrentPrincipal, Role, allow
from travel_recharge.security.devices import require_own_validator
from travel_recharge.trips.batches import service
from travel_recharge.trips.batches.schemas import BatchOut, OfflineRisksOut, TapBatch

router = APIRouter(prefix="/api/v1/trips", tags=["trips"], route_class=StrictJSONRoute)


@router.post(
    "/batches",
    response_model=BatchOut,
    responses=error_responses(403, 422),
    dependencies=[allow("taps", Role.validator)],
)
async def ingest_batch(
    batch: TapBatch,
    request: Request,
    principal: CurrentPrincipal,
    cache: CacheDep,
    settings: SettingsDep,
) -> BatchOut:
    """Up to 500 taps an offline validator kept: each applied at most once, per card in
    event-time order; one result per tap (charged, duplicate, or refused and why)."""
    require_own_validator(principal, batch.validator_id)
    return await service.ingest(
        database_of(request),
        cache,
        batch,
        datetime.now(UTC),
        settings,
        account_id=principal.account_id,
    )


@router.get(
    "/offline-risks",
    response_model=OfflineRisksOut,
    responses=error_responses(422),
    dependencies=[allow("operations", Role.operator, Role.analyst)],
)
async def offline_risks(
    session: PrimaryReadSessionDep,
    page: PageDep,
    card_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this card's")] = None,
) -> OfflineRisksOut:
    """Taps offline validators let through that their cards could not cover, newest first."""
    return await service.offline_risks(session, card_id, page)
