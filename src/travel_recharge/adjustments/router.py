"""Adjustment endpoints for operators: HTTP only; the rules live in adjustments.service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from travel_recharge.adjustments import service
from travel_recharge.adjustments.errors import (
    AdjustmentAlreadyDecided,
    AdjustmentNotFound,
    AdjustmentOverdraws,
    CardNotAdjustable,
    OwnProposal,
    ReferenceNotOfCard,
    RefundExceedsReference,
)
from travel_recharge.adjustments.schemas import (
    AdjustmentOut,
    AdjustmentProposal,
    AdjustmentsOut,
    Decision,
    Rejection,
    Status,
)
from travel_recharge.cards.errors import CardNotFound
from travel_recharge.fares.errors import NoFarePolicyInForce
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import PrimaryReadSessionDep, UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.idempotency import IdempotencyKeyHeader
from travel_recharge.kit.ids import MAX_ID
from travel_recharge.kit.pagination import PageDep
from travel_recharge.security import CurrentPrincipal, Role, allow

router = APIRouter(
    prefix="/api/v1/adjustments",
    tags=["adjustments"],
    route_class=StrictJSONRoute,
    dependencies=[allow("operations", Role.operator)],
)

AdjustmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the adjustment's id")]


@router.post(
    "",
    status_code=201,
    response_model=AdjustmentOut,
    responses=error_responses(
        CardNotFound, CardNotAdjustable, ReferenceNotOfCard, RefundExceedsReference, 422
    ),
)
async def propose_adjustment(
    request: AdjustmentProposal,
    key: IdempotencyKeyHeader,
    uow: UnitOfWorkDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> JSONResponse:
    """Propose a refund or correction of a card's balance; nothing moves until another
    operator approves it."""
    answer = await service.propose(
        uow,
        request,
        key,
        datetime.now(UTC),
        actor=principal,
        max_amount=settings.adjustment_max_amount,
    )
    return answer.response()


@router.post(
    "/{adjustment_id}/approve",
    response_model=AdjustmentOut,
    responses=error_responses(
        AdjustmentNotFound,
        AdjustmentAlreadyDecided,
        OwnProposal,
        CardNotAdjustable,
        RefundExceedsReference,
        AdjustmentOverdraws,
        NoFarePolicyInForce,
        422,
    ),
)
async def approve_adjustment(
    adjustment_id: AdjustmentId,
    decision: Decision,
    uow: UnitOfWorkDep,
    cache: CacheDep,
    principal: CurrentPrincipal,
) -> AdjustmentOut:
    """Approve another operator's proposal: it posts to the card's balance and ledger, once."""
    return await service.approve(
        uow, cache, adjustment_id, decision, datetime.now(UTC), actor=principal
    )


@router.post(
    "/{adjustment_id}/reject",
    response_model=AdjustmentOut,
    responses=error_responses(AdjustmentNotFound, AdjustmentAlreadyDecided, OwnProposal, 422),
)
async def reject_adjustment(
    adjustment_id: AdjustmentId,
    rejection: Rejection,
    uow: UnitOfWorkDep,
    principal: CurrentPrincipal,
) -> AdjustmentOut:
    """Reject another operator's proposal, saying why; no money moves."""
    return await service.reject(uow, adjustment_id, rejection, datetime.now(UTC), actor=principal)


@router.get("", response_model=AdjustmentsOut, responses=error_responses(422))
async def list_adjustments(
    session: PrimaryReadSessionDep,
    page: PageDep,
    status: Annotated[Status | None, Query(description="only adjustments in this state")] = None,
    card_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this card's")] = None,
) -> AdjustmentsOut:
    """Adjustments for audit, newest first: who proposed and who decided each, and when."""
    return await service.adjustments(session, page, status=status, card_id=card_id)


@router.get(
    "/{adjustment_id}",
    response_model=AdjustmentOut,
    responses=error_responses(AdjustmentNotFound, 422),
)
async def get_adjustment(
    adjustment_id: AdjustmentId, session: PrimaryReadSessionDep
) -> AdjustmentOut:
    """One adjustment with its decision."""
    return await service.adjustment(session, adjustment_id)
