"""Token revocation for admins: HTTP only."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from travel_recharge.accounts.errors import AccountNotFound, NotOurToken
from travel_recharge.accounts.revocations import service as revocations
from travel_recharge.accounts.revocations.schemas import RevocationOut, TokenRevoke
from travel_recharge.accounts.schemas import Login
from travel_recharge.kit.db import UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.security.access import CurrentPrincipal, allow

router = APIRouter(
    prefix="/api/v1/auth",
    tags=["auth"],
    route_class=StrictJSONRoute,
    dependencies=[allow("admin")],
)


@router.post(
    "/tokens/revoke", response_model=RevocationOut, responses=error_responses(NotOurToken, 422)
)
async def revoke_token(
    body: TokenRevoke, request: Request, uow: UnitOfWorkDep, principal: CurrentPrincipal
) -> RevocationOut:
    """Refuse one token from now on, before it expires (the account's others keep working)."""
    signer = request.app.state.token_signer
    now = datetime.now(UTC)
    return await revocations.revoke_token(
        uow.session, uow, signer, body.token, now, actor=principal
    )


@router.post(
    "/accounts/{login}/revoke-tokens",
    response_model=RevocationOut,
    responses=error_responses(AccountNotFound, 422),
)
async def revoke_account_tokens(
    login: Login, request: Request, uow: UnitOfWorkDep, principal: CurrentPrincipal
) -> RevocationOut:
    """Refuse every token the account holds now; tokens it gets later work."""
    account_id = await revocations.account_id_of(uow.session, login)
    signer = request.app.state.token_signer
    now = datetime.now(UTC)
    return await revocations.revoke_account_tokens(
        uow.session, uow, signer, account_id, now, actor=principal
    )
