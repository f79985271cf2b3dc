"""Who may call a route, declared with the route.

Every API route declares exactly one access rule among its dependencies:
    public(group)                  anyone, counted per client IP
    allow(group, *roles)           a token with one of the roles (admin always qualifies)
    allow_owner(group, *roles, claim=...)  ...or a rider who owns the resource the request
                                   names (a feature declares its own: cards.auth.allow_card_owner)
The group names the rate limits the route is counted in (rate_limit.DEFAULT_LIMITS).
`routes.secure_routes` refuses to start an app with a route that declares none, so a new
endpoint is closed until someone decides who may call it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.params import Depends as DependsParam
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import Scope

from travel_recharge.kit.errors import Forbidden, Unauthorized
from travel_recharge.kit.replay.record import admitted_at_edge, note_admission
from travel_recharge.security.rate_limit import RateLimiter, client_key, is_uncounted
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
    owners: bool = False  # a rider may act on a resource the request names if they own it

    @property
    def public(self) -> bool:
        return not self.roles


@dataclass(frozen=True)
class Caller:
    """What the Authorization header said: a principal, a refusal reason, or nothing."""

    principal: Principal | None = None
    problem: str | None = None


def caller_of(signer: TokenSigner, authorization: str | None) -> Caller:
    """Who an Authorization header names, or why it names nobody."""
    if authorization is None:
        return Caller()
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token:
        return Caller(problem="the Authorization header must be 'Bearer <token>'")
    try:
        return Caller(signer.read(token))
    except InvalidToken as exc:
        return Caller(problem=str(exc))


async def _caller(
    request: Request, authorization: Annotated[str | None, Depends(oauth2)]
) -> Caller:
    return caller_of(request.app.state.token_signer, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


def _authenticated(caller: Caller) -> Principal:
    if caller.principal is None:
        raise Unauthorized(caller.problem or "this endpoint needs a bearer token")
    return caller.principal


async def current_principal(caller: CallerDep) -> Principal:
    return _authenticated(caller)


# For endpoints that need to know who calls; their access rule has already admitted them.
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def client_ip(scope: Scope) -> str | None:
    """The address rate limits count the caller by (an IPv6 client by its /64).

    It is the connection's peer, unless that peer is one of TR_TRUSTED_PROXIES: then uvicorn
    has put the client's address from X-Forwarded-For there (`serve`, cli.proxy_options)."""
    client = scope.get("client")
    return client_key(client[0]) if client else None


def principal_key(principal: Principal | None) -> str | None:
    """The name a caller's own rate limits count them by."""
    return f"account:{principal.account_id}" if principal is not None else None


async def _admit(request: Request, rule: AccessRule, principal: Principal | None) -> None:
    if is_uncounted(request.scope):
        return
    # The edge may answer this request again itself, admitting it by the same rule.
    note_admission(rule)
    if admitted_at_edge(request.scope):
        return  # the edge has counted it already (kit.replay)
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.admit(rule.group, client_ip(request.scope), principal_key(principal))


async def charge_caller(request: Request, principal: Principal, costs: Mapping[str, int]) -> None:
    """Count `costs` (requests per route group) against the caller's own limits, as if they
    had sent them: for an endpoint that makes requests on the caller's behalf (429 when
    they do not fit, and then none is counted)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.charge(costs, client_ip(request.scope), principal_key(principal))


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


class OwnershipClaim(Protocol):
    """The resource a request names, asked only when a rider calls (staff skip the query)."""

    @property
    def resource(self) -> str: ...  # e.g. "card 12", for the refusal

    async def owned_by(self, user_id: int) -> bool: ...


def allow_owner(
    group: str, *roles: Role, claim: Callable[..., Awaitable[OwnershipClaim]]
) -> DependsParam:
    """Like allow(), and a rider may also call it for a resource they own (else 403).

    `claim` is the owning feature's dependency naming the resource from the request (its path
    parameters), so this module needs to know no feature's tables.
    """
    rule = AccessRule(group, frozenset({*roles, Role.admin}), owners=True)

    async def owner_access(
        request: Request,
        caller: CallerDep,
        # A default, not Annotated: a string annotation could not see this closure's `claim`.
        claimed: OwnershipClaim = Depends(claim),  # noqa: B008
    ) -> None:
        await _admit(request, rule, caller.principal)
        principal = _authenticated(caller)
        if principal.role in rule.roles:
            return
        if principal.role is Role.rider and principal.user_id is not None:
            if await claimed.owned_by(principal.user_id):
                return
            # The same answer for someone else's resource and for none: ids are not probed.
            raise Forbidden(f"{claimed.resource} does not belong to this rider")
        raise _refuse(principal)

    return _declared(owner_access, rule)


def rule_of(declared: DependsParam) -> AccessRule:
    """The access rule a route's declared dependency (public, allow, allow_owner) stands for."""
    rule = access_rule_of(declared.dependency)
    if rule is None:
        raise ValueError(f"{declared!r} declares no access rule")
    return rule
