"""Web recharge endpoints: HTTP only; the rules live in cards.web_recharges.service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from travel_recharge.cards.auth import allow_card_owner
from travel_recharge.cards.errors import CardNotActive, CardNotFound
from travel_recharge.cards.schemas import CardId, RechargeRequest
from travel_recharge.cards.web_recharges import service
from travel_recharge.cards.web_recharges.schemas import WebRechargeOut, WebRechargesOut
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import PrimaryReadSessionDep, UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.idempotency import IdempotencyKeyHeader
from travel_recharge.kit.pagination import PageDep
from travel_recharge.network.errors import RechargePointNotActive, RechargePointNotFound
from travel_recharge.security import CurrentPrincipal, Role, allow
from travel_recharge.security.devices import require_own_recharge_point

router = APIRouter(prefix="/api/v1/cards", tags=["cards"], route_class=StrictJSONRoute)


@router.post(
    "/web-recharges",
    status_code=201,
    response_model=WebRechargeOut,
    responses=error_responses(
        CardNotFound, CardNotActive, RechargePointNotFound, RechargePointNotActive, 403, 422
    ),
    dependencies=[allow("recharges", Role.recharge_point)],
)
async def pay_web_recharge(
    request: RechargeRequest,
    key: IdempotencyKeyHeader,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> JSONResponse:
    """A recharge paid on the web: pending until the card's next read at a station validator,
    refunded if that does not happen in time; a retry with the same Idempotency-Key pays
    nothing more."""
    require_own_recharge_point(principal, request.recharge_point_id)
    answer = await service.pay(
        uow,
        cache,
        request,
        key,
        datetime.now(UTC),
        account_id=principal.account_id,
        expiry=timedelta(days=settings.web_recharge_expiry_days),
    )
    return answer.response()


@router.get(
    "/{card_id}/web-recharges",
    response_model=WebRechargesOut,
    responses=error_responses(CardNotFound, 422),
    dependencies=[allow_card_owner("cards", Role.operator)],
)
async def web_recharges(
    card_id: CardId, page: PageDep, session: PrimaryReadSessionDep
) -> WebRechargesOut:
    """The card's web recharges, newest first: pending, posted (and the recharge each
    became) or expired (refunded)."""
    return await service.of_card(session, card_id, page)
