"""The access rules' side of the edge: the replay of cached answers (kit.replay) and the
direct routes (kit.direct).

A learned answer carries the access rule that admitted its caller on the route. Replaying it
admits the caller again the same way: a valid token whose role the rule names (a rider
admitted as an owner is not: ownership is the route's question), counted in the rule's rate
limits with the same buckets the route would count.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.types import Scope

from travel_recharge.kit.direct import DirectCall
from travel_recharge.kit.replay.layer import Charge
from travel_recharge.security.access import AccessRule, caller_of, client_ip, principal_key
from travel_recharge.security.rate_limit import RateLimiter, is_uncounted
from travel_recharge.security.tokens import Principal, TokenSigner

M = TypeVar("M", bound=BaseModel)


class EdgeGate:
    def __init__(self, signer: TokenSigner, limiter: RateLimiter) -> None:
        self._signer = signer
        self._limiter = limiter

    def charge(self, scope: Scope, authorization: bytes | None, admission: object) -> Charge | None:
        if not isinstance(admission, AccessRule) or is_uncounted(scope):
            return None
        principal = None
        if not admission.public:
            principal = self.admitted(scope, authorization, admission)
            if principal is None:
                return None
        call = self._limiter.charge_call(
            {admission.group: 1}, client_ip(scope), principal_key(principal)
        )
        return Charge(call, self._limiter.admits)

    def admitted(
        self, scope: Scope, authorization: bytes | None, rule: AccessRule
    ) -> Principal | None:
        """The caller, when `rule` admits them by their token's role, as the route would;
        None when only the route may decide: no valid token, a role the rule does not name
        (a rider admitted as an owner too), a public rule, a request the service sent itself."""
        if rule.public or is_uncounted(scope):
            return None
        header = authorization.decode("latin-1") if authorization is not None else None
        principal = caller_of(self._signer, header).principal
        if principal is None or principal.role not in rule.roles:
            return None
        return principal

    async def count(self, scope: Scope, rule: AccessRule, principal: Principal) -> None:
        """Counts an admitted request in the rule's rate limits, as the route would
        (TooManyRequests when they refuse it)."""
        await self._limiter.admit(rule.group, client_ip(scope), principal_key(principal))


async def admit_direct(
    call: DirectCall, rule: AccessRule, model: type[M]
) -> tuple[Principal, M] | None:
    """The caller and the body of a direct route's request (kit.direct), counted in the
    rule's rate limits; None, counting nothing, when the route should answer instead: a
    caller the rule does not admit by role, or a body the route would refuse."""
    gate: EdgeGate = call.state.edge_gate
    principal = gate.admitted(call.scope, call.header(b"authorization"), rule)
    request = call.model(model) if principal is not None else None
    if principal is None or request is None:
        return None
    await gate.count(call.scope, rule, principal)
    return principal, request
