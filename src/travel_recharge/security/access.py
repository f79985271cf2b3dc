"""Who may call a route, declared with the route.

Every API route declares exactly one access rule among its dependencies:
    public(group)                  anyone, counted per client IP
    allow(group, *roles)           a token with one of the roles (admin always qualifies)
    allow_card_owner(group, *roles)    ...or a rider token for the card in the path
The group names the rate limits the route is counted in (rate_limit.DEFAULT_LIMITS).
`routes.secure_routes` refuses to start an app with a route that declares none, so a new
endpoint is closed until someone decides who may call it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.params import Depends as DependsParam
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param

from travel_recharge.cards import service as cards
from travel_recharge.cards.schemas import CardId
from travel_recharge.kit.db import PrimaryReadSessionDep
from travel_recharge.kit.errors import Forbidden, Unauthorized
from travel_recharge.security.rate_limit import RateLimiter, is_uncounted
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import InvalidToken, Principal, TokenSigner

TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105  (a path, not a secret)

# Swagger UI's Authorize button offers both grants against the token endpoint.
oauth2 = OAuth2(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl=TOKEN_PATH),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH),
    ),
    scheme_name="OAuth2",
    description="People use the password grant, devices the client credentials grant.",
    auto_error=False,
)


@dataclass(frozen=True)
class AccessRule:
    group: str
    roles: frozenset[Role]  # empty: public
    card_owners: bool = False  # a rider may act on the card in the path if they own it

    @property
    def public(self) -> bool:
        return not self.roles


@dataclass(frozen=True)
class Caller:
    """What the Authorization header said: a principal, a refusal reason, or nothing."""

    principal: Principal | None = None
    problem: str | None = None


async def _caller(
    request: Request, authorization: Annotated[str | None, Depends(oauth2)]
) -> Caller:
    if authorization is None:
        return Caller()
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token:
        return Caller(problem="the Authorization header must be 'Bearer <token>'")
    signer: TokenSigner = request.app.state.token_signer
    try:
        return Caller(signer.read(token))
    except InvalidToken as exc:
        return Caller(problem=str(exc))


CallerDep = Annotated[Caller, Depends(_caller)]


def _authenticated(caller: Caller) -> Principal:
    if caller.principal is None:
        raise Unauthorized(caller.problem or "this endpoint needs a bearer token")
    return caller.principal


async def current_principal(caller: CallerDep) -> Principal:
    return _authenticated(caller)


# For endpoints that need to know who calls; their access rule has already admitted them.
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def client_ip(request: Request) -> str | None:
    # Behind a proxy, uvicorn's --forwarded-allow-ips makes this the real client address.
    return request.client.host if request.client else None


async def _admit(request: Request, rule: AccessRule, principal: Principal | None) -> None:
    if is_uncounted(request.scope):
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    who = f"account:{principal.account_id}" if principal is not None else None
    await limiter.admit(rule.group, client_ip(request), who)


def _refuse(principal: Principal) -> Forbidden:
    return Forbidden(f"the {principal.role} role may not use this endpoint")


Guard = Callable[..., Awaitable[None]]


def _declared(guard: Guard, rule: AccessRule) -> DependsParam:
    guard.access_rule = rule  # type: ignore[attr-defined]  # read by routes.secure_routes
    declared: DependsParam = Depends(guard)
    return declared


def access_rule_of(dependency: object) -> AccessRule | None:
    rule = getattr(dependency, "access_rule", None)
    return rule if isinstance(rule, AccessRule) else None


def public(group: str) -> DependsParam:
    """Anyone may call the route; requests are counted per client IP."""
    rule = AccessRule(group, frozenset())

    async def public_access(request: Request) -> None:
        await _admit(request, rule, None)

    return _declared(public_access, rule)


def allow(group: str, *roles: Role) -> DependsParam:
    """Callers with a token for one of `roles` (or admin); 401 without one, 403 otherwise."""
    rule = AccessRule(group, frozenset({*roles, Role.admin}))

    async def role_access(request: Request, caller: CallerDep) -> None:
        await _admit(request, rule, caller.principal)
        principal = _authenticated(caller)
        if principal.role not in rule.roles:
            raise _refuse(principal)

    return _declared(role_access, rule)


def allow_card_owner(group: str, *roles: Role) -> DependsParam:
    """Like allow(), and a rider may also call it for a card_id they own (else 403)."""
    rule = AccessRule(group, frozenset({*roles, Role.admin}), card_owners=True)

    async def card_access(
        request: Request, caller: CallerDep, card_id: CardId, session: PrimaryReadSessionDep
    ) -> None:
        await _admit(request, rule, caller.principal)
        principal = _authenticated(caller)
        if principal.role in rule.roles:
            return
        if principal.role is Role.rider and principal.user_id is not None:
            if await cards.is_owner(session, card_id, principal.user_id):
                return
            # The same answer for someone else's card and for no card: ids are not probed.
            raise Forbidden(f"card {card_id} does not belong to this rider")
        raise _refuse(principal)

    return _declared(card_access, rule)
