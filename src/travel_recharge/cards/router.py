"""Card endpoints: HTTP only; the rules live in cards.service."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from travel_recharge.cards import service, views
from travel_recharge.cards.auth import allow_card_owner
from travel_recharge.cards.errors import CardNotActive, CardNotFound
from travel_recharge.cards.schemas import (
    BalanceOut,
    BlockRequest,
    CardCreate,
    CardId,
    CardOut,
    RechargeHistoryOut,
    RechargeOut,
    RechargeRequest,
    ReplacementOut,
)
from travel_recharge.finance import service as ledger
from travel_recharge.finance.schemas import CardLedgerOut
from travel_recharge.kit.cache import Cache, CacheDep
from travel_recharge.kit.db import (
    DriverTransaction,
    DriverTransactionDep,
    PrimaryReadSessionDep,
    UnitOfWorkDep,
)
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.idempotency import IdempotencyKeyHeader
from travel_recharge.kit.pagination import PageDep
from travel_recharge.kit.views import PrimaryReadsDep, json_response
from travel_recharge.network.errors import RechargePointNotActive, RechargePointNotFound
from travel_recharge.security import CurrentPrincipal, Principal, Role, allow
from travel_recharge.security.devices import require_own_recharge_point
from travel_recharge.users.errors import UserNotFound

router = APIRouter(prefix="/api/v1/cards", tags=["cards"], route_class=StrictJSONRoute)
RECHARGE_PATH = "/api/v1/cards/recharge"
RECHARGE_ACCESS = allow("recharges", Role.recharge_point)


@router.post(
    "",
    status_code=201,
    response_model=CardOut,
    responses=error_responses(UserNotFound, 409, 422),
    dependencies=[allow("operations", Role.recharge_point, Role.operator)],
)
async def issue_card(request: CardCreate, uow: UnitOfWorkDep) -> CardOut:
    """Issue a basic (anonymous) or personalized card with a zero balance."""
    return await service.issue_card(uow.session, request, datetime.now(UTC))


@router.post(
    RECHARGE_PATH.removeprefix(router.prefix),
    status_code=201,
    response_model=RechargeOut,
    responses=error_responses(
        CardNotFound, CardNotActive, RechargePointNotFound, RechargePointNotActive, 403, 422
    ),
    dependencies=[RECHARGE_ACCESS],
)
async def recharge_card(
    request: RechargeRequest,
    key: IdempotencyKeyHeader,
    principal: CurrentPrincipal,
    unit: DriverTransactionDep,
    cache: CacheDep,
) -> JSONResponse:
    """Recharge a card at a point of sale; a retry with the same Idempotency-Key credits nothing."""
    return await recharge_answer(request, key, principal, unit, cache)


async def recharge_answer(
    request: RechargeRequest,
    key: str,
    principal: Principal,
    unit: DriverTransaction,
    cache: Cache,
) -> JSONResponse:
    """The recharge's answer, by the route and by its direct route (cards.direct) alike."""
    require_own_recharge_point(principal, request.recharge_point_id)
    answer = await service.recharge(
        unit, cache, request, key, datetime.now(UTC), account_id=principal.account_id
    )
    return answer.response()


@router.get(
    "/{card_id}/balance",
    response_model=BalanceOut,
    responses=error_responses(CardNotFound, 422),
    dependencies=[allow_card_owner("cards", Role.operator)],
)
async def card_balance(card_id: CardId, reads: PrimaryReadsDep) -> Response:
    """The card's balance, status and credit trips; exact after every acknowledged write."""
    return json_response(await views.balance_view(reads, card_id))


@router.get(
    "/{card_id}/history",
    response_model=RechargeHistoryOut,
    responses=error_responses(CardNotFound, 422),
    dependencies=[allow_card_owner("cards", Role.operator)],
)
async def recharge_history(card_id: CardId, page: PageDep, reads: PrimaryReadsDep) -> Response:
    """The card's recharges, newest first."""
    return json_response(await views.history_view(reads, card_id, page))


@router.get(
    "/{card_id}/ledger",
    response_model=CardLedgerOut,
    responses=error_responses(CardNotFound, 422),
    dependencies=[allow_card_owner("cards", Role.operator)],
)
async def card_ledger(
    card_id: CardId, page: PageDep, session: PrimaryReadSessionDep
) -> CardLedgerOut:
    """Every ledger entry of the card, newest first (never cached: it is the audit trail)."""
    await service.require_card(session, card_id)
    return await ledger.card_ledger(session, card_id, page)


@router.post(
    "/{card_id}/block",
    response_model=CardOut,
    responses=error_responses(CardNotFound, 409, 422),
    # A rider who lost their card can block it at once; unblocking needs the operator.
    dependencies=[allow_card_owner("operations", Role.operator)],
)
async def block_card(
    card_id: CardId,
    request: BlockRequest,
    uow: UnitOfWorkDep,
    cache: CacheDep,
    principal: CurrentPrincipal,
) -> CardOut:
    """Block an active card (reported lost or stolen, or by the operator)."""
    return await service.block(uow, cache, card_id, request, actor=principal)


@router.post(
    "/{card_id}/unblock",
    response_model=CardOut,
    responses=error_responses(CardNotFound, 409, 422),
    dependencies=[allow("operations", Role.operator)],
)
async def unblock_card(
    card_id: CardId, uow: UnitOfWorkDep, cache: CacheDep, principal: CurrentPrincipal
) -> CardOut:
    """Make a blocked card usable again."""
    return await service.unblock(uow, cache, card_id, actor=principal)


@router.post(
    "/{card_id}/replace",
    status_code=201,
    response_model=ReplacementOut,
    responses=error_responses(CardNotFound, 409, 422),
    dependencies=[allow("operations", Role.operator)],
)
async def replace_card(
    card_id: CardId,
    key: IdempotencyKeyHeader,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    cache: CacheDep,
) -> JSONResponse:
    """Replace a lost personalized card: retire it and move its balance to a new card."""
    return (await service.replace(uow, cache, card_id, key, actor=principal)).response()
