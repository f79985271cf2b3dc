"""The access rules' side of the edge's replay of cached answers (kit.replay).

A learned answer carries the access rule that admitted its caller on the route. Replaying it
admits the caller again the same way: a valid token whose role the rule names (a rider
admitted as an owner is not: ownership is the route's question), counted in the rule's rate
limits with the same buckets the route would count.
"""

from __future__ import annotations

from starlette.types import Scope

from travel_recharge.kit.replay.layer import Charge
from travel_recharge.security.access import AccessRule, caller_of, client_ip, principal_key
from travel_recharge.security.rate_limit import RateLimiter, is_uncounted
from travel_recharge.security.tokens import TokenSigner


class EdgeGate:
    def __init__(self, signer: TokenSigner, limiter: RateLimiter) -> None:
        self._signer = signer
        self._limiter = limiter

    def charge(self, scope: Scope, authorization: bytes | None, admission: object) -> Charge | None:
        if not isinstance(admission, AccessRule) or is_uncounted(scope):
            return None
        principal = None
        if not admission.public:
            header = authorization.decode("latin-1") if authorization is not None else None
            principal = caller_of(self._signer, header).principal
            if principal is None or principal.role not in admission.roles:
                return None
        call = self._limiter.charge_call(
            {admission.group: 1}, client_ip(scope), principal_key(principal)
        )
        return Charge(call, self._limiter.admits)
