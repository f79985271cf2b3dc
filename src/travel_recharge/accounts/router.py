"""The OAuth2 token endpoint, the caller's own account, and account creation for admins."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from travel_recharge.accounts import service as accounts
from travel_recharge.accounts.errors import AccountNotFound, NotADevice
from travel_recharge.accounts.schemas import (
    AccountCreate,
    AccountCreated,
    AccountKind,
    AccountOut,
    AccountsPage,
    Login,
    PrincipalOut,
    TokenOut,
)
from travel_recharge.cards import service as cards
from travel_recharge.kit.db import PrimaryReadSessionDep, ReadSessionDep, UnitOfWorkDep
from travel_recharge.kit.errors import AppError, error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.pagination import PageDep
from travel_recharge.kit.storable_text import refuse_field
from travel_recharge.security.access import CurrentPrincipal, allow, client_ip, public
from travel_recharge.security.rate_limit import RateLimiter
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import TokenSigner

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=StrictJSONRoute)

LoginField = Annotated[str | None, Form(max_length=64)]
SecretField = Annotated[str | None, Form(max_length=256)]


class OAuthError(AppError):
    """RFC 6749 §5.2 errors: 400 with invalid_request, invalid_grant...; 401 invalid_client."""

    def __init__(
        self, code: str, detail: str, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail, headers)
        self.code = code
        self.status_code = status_code


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1), if sent that way."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(
            "invalid_client", "Authorization: malformed Basic credentials", 401
        ) from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError("invalid_client", "Authorization: Basic needs client_id:secret", 401)
    client_id, secret = unquote(client_id), unquote(secret)
    # Taken apart here, not by the route's parameters: checked like every other text field.
    refuse_field("Authorization", client_id + secret)
    return client_id, secret


def _required(value: str | None, name: str, grant: str) -> str:
    if not value:
        raise OAuthError("invalid_request", f"{name}: required for the {grant} grant")
    return value


@router.post(
    "/token",
    response_model=TokenOut,
    responses=error_responses(400, 401),
    dependencies=[public("auth")],
)
async def issue_token(
    request: Request,
    # The primary: an account made or deactivated a moment ago counts at once (a replica
    # could lag behind).
    session: PrimaryReadSessionDep,
    grant_type: Annotated[str | None, Form(max_length=40)] = None,
    username: LoginField = None,
    password: SecretField = None,
    client_id: LoginField = None,
    client_secret: SecretField = None,
    scope: Annotated[str | None, Form(max_length=200, description="ignored")] = None,
) -> JSONResponse:
    """Exchange a password (people) or client credentials (devices) for a bearer token."""
    kind: AccountKind
    if grant_type == "password":
        login = _required(username, "username", grant_type)
        secret = _required(password, "password", grant_type)
        kind = "person"
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        login, secret = basic or (
            _required(client_id, "client_id", grant_type),
            _required(client_secret, "client_secret", grant_type),
        )
        kind = "client"
    elif grant_type is None:
        raise OAuthError("invalid_request", "grant_type: required")
    else:
        raise OAuthError(
            "unsupported_grant_type", "grant_type: must be password or client_credentials"
        )
    # Failed attempts count per (login, client address): the address that keeps failing
    # for a login is refused (429) before any check, while failures from other addresses
    # never stop the right secret from working (a per-login count would let anyone lock a
    # validator out). Every attempt, right or wrong, also counts per address (the `auth`
    # group's public rule), bounding the argon2 work any one address can cause. Secrets are
    # generated (256 bits), so spreading guesses over many addresses gains nothing.
    limiter: RateLimiter = request.app.state.rate_limiter
    attempts = f"login:{login}@{client_ip(request.scope)}"
    await limiter.admit("auth", None, attempts)
    principal = await accounts.authenticate(session, login, secret, kind)
    if principal is None:
        if kind == "client":
            raise OAuthError(
                "invalid_client",
                "client_id or client_secret is wrong",
                401,
                {"WWW-Authenticate": 'Basic realm="travel-recharge"'},
            )
        raise OAuthError("invalid_grant", "username or password is wrong")
    # Only failures add up: the right secret clears its (login, address) count.
    await limiter.forget("auth", "principal", attempts)
    signer: TokenSigner = request.app.state.token_signer
    issued = signer.issue(principal, datetime.now(UTC))
    answer = TokenOut(access_token=issued.token, expires_in=issued.expires_in, scope=principal.role)
    # RFC 6749 §5.1: token answers must not be cached anywhere.
    return JSONResponse(
        answer.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


@router.get("/me", response_model=PrincipalOut, dependencies=[allow("account", *Role)])
async def who_am_i(principal: CurrentPrincipal, session: PrimaryReadSessionDep) -> PrincipalOut:
    """The account behind the token, and for a rider the cards they own."""
    owned = await cards.cards_of(session, principal.user_id) if principal.user_id else []
    return PrincipalOut(
        account_id=principal.account_id,
        login=principal.login,
        role=principal.role,
        user_id=principal.user_id,
        validator_id=principal.validator_id,
        recharge_point_id=principal.recharge_point_id,
        card_ids=owned,
    )


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountCreated,
    responses=error_responses(404, 409, 422),
    dependencies=[allow("admin")],
)
async def create_account(
    request: AccountCreate, uow: UnitOfWorkDep, response: Response, principal: CurrentPrincipal
) -> AccountCreated:
    """Create a person or device account; its generated secret is shown only in this answer."""
    response.headers["Cache-Control"] = "no-store"
    return await accounts.create(uow.session, request, actor=principal)


@router.get("/accounts", response_model=AccountsPage, dependencies=[allow("admin")])
async def list_accounts(page: PageDep, session: ReadSessionDep) -> AccountsPage:
    """Every account, oldest first (secrets are never shown again)."""
    return await accounts.page_of_accounts(session, page)


@router.post(
    "/accounts/{login}/deactivate",
    response_model=AccountOut,
    responses=error_responses(404, 422),
    dependencies=[allow("admin")],
)
async def deactivate_account(
    login: Login, request: Request, uow: UnitOfWorkDep, principal: CurrentPrincipal
) -> AccountOut:
    """Stop an account from getting tokens, and revoke the tokens it holds."""
    signer: TokenSigner = request.app.state.token_signer
    return await accounts.deactivate(uow, signer, login, datetime.now(UTC), actor=principal)


@router.post(
    "/accounts/{login}/rotate-secret",
    response_model=AccountCreated,
    responses=error_responses(AccountNotFound, NotADevice, 422),
    dependencies=[allow("admin")],
)
async def rotate_secret(
    login: Login,
    request: Request,
    uow: UnitOfWorkDep,
    response: Response,
    principal: CurrentPrincipal,
) -> AccountCreated:
    """Give a device a new secret, shown only in this answer; its old secret and tokens stop
    working."""
    response.headers["Cache-Control"] = "no-store"
    signer: TokenSigner = request.app.state.token_signer
    return await accounts.rotate_secret(uow, signer, login, datetime.now(UTC), actor=principal)
