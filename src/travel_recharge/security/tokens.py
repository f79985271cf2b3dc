"""Signed access tokens (HS256 JWTs): who the caller is and which role they act in."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import jwt

from travel_recharge.security.roles import Role

T = TypeVar("T")

ALGORITHM = "HS256"
# Clocks of different machines may disagree a little; more than this is a bad token.
CLOCK_LEEWAY_S = 5
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "role", "login"]
# A validator sends the same token with every tap for its whole lifetime: remembering the
# tokens already verified (per worker) saves the signature check and claim parsing — about
# 4% of a tap's time in the worker, measured with py-spy.
_VERIFIED_TOKENS = 4096


class InvalidToken(Exception):
    """The token is missing a claim, expired, tampered with or signed some other way."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    account_id: int
    login: str
    role: Role
    user_id: int | None = None  # the rider whose cards a rider token may read
    # The device a validator or recharge point account is bound to (None for other roles,
    # and for device tokens issued before bindings existed: those may not tap or recharge).
    validator_id: str | None = None
    recharge_point_id: int | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class TokenSigner:
    key: str
    issuer: str
    audience: str
    ttl_s: int
    # token -> (principal, expiry as a Unix time); only tokens that passed every check.
    _verified: OrderedDict[str, tuple[Principal, float]] = field(
        default_factory=OrderedDict, repr=False, compare=False
    )

    def issue(self, principal: Principal, now: datetime) -> IssuedToken:
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(principal.account_id),
            "login": principal.login,
            "role": principal.role.value,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.ttl_s),
            "jti": uuid.uuid4().hex,
        }
        if principal.user_id is not None:
            claims["uid"] = principal.user_id
        # Carried in the token so the tap checks its binding without a database round trip.
        if principal.validator_id is not None:
            claims["validator_id"] = principal.validator_id
        if principal.recharge_point_id is not None:
            claims["recharge_point_id"] = principal.recharge_point_id
        return IssuedToken(jwt.encode(claims, self.key, algorithm=ALGORITHM), self.ttl_s)

    def read(self, token: str) -> Principal:
        """The principal a valid token names; InvalidToken otherwise."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            # Its signature and claims were checked; only time can have made it invalid.
            if time.time() <= expires + CLOCK_LEEWAY_S:
                return principal
            del self._verified[token]
            raise InvalidToken("the token has expired")
        principal, expires = self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > _VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            # Only HS256 is accepted: a token claiming "none" or another algorithm is refused
            # before its signature is even looked at.
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_LEEWAY_S,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not valid") from exc
        return _principal(claims), float(claims["exp"])


def _principal(claims: dict[str, object]) -> Principal:
    sub, role, login, uid = claims["sub"], claims["role"], claims["login"], claims.get("uid")
    if not (isinstance(sub, str) and sub.isdigit()) or not isinstance(login, str):
        raise InvalidToken("the token is not valid")
    if not isinstance(role, str) or role not in Role.__members__:
        raise InvalidToken("the token is not valid")
    if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool)):
        raise InvalidToken("the token is not valid")
    if (role == Role.rider) != (uid is not None):
        raise InvalidToken("the token is not valid")
    validator_id = _binding(claims, "validator_id", str, role == Role.validator)
    point_id = _binding(claims, "recharge_point_id", int, role == Role.recharge_point)
    return Principal(int(sub), login, Role(role), uid, validator_id, point_id)


def _binding(claims: dict[str, object], name: str, kind: type[T], allowed: bool) -> T | None:
    """A device binding claim: of its type, and only in the tokens of its role."""
    value = claims.get(name)
    if value is None:
        return None
    if not allowed or isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidToken("the token is not valid")
    return value
