"""Signed access tokens (HS256 JWTs): who the caller is and which role they act in."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import jwt

from travel_recharge.security.revocations import RevokedTokens
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
class TokenIdentity:
    """What names one token of ours, expired or not: for revoking it."""

    token_id: str | None
    account_id: int
    expires_at: float  # a Unix time


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float
    token_id: str | None
    issued_at: float


@dataclass(frozen=True)
class TokenSigner:
    key: str
    issuer: str
    audience: str
    ttl_s: int
    # Only tokens that passed every check; revocations are checked on every read.
    _verified: OrderedDict[str, _Verified] = field(
        default_factory=OrderedDict, repr=False, compare=False
    )
    revoked: RevokedTokens = field(default_factory=RevokedTokens, repr=False, compare=False)

    def issue(self, principal: Principal, now: datetime) -> IssuedToken:
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(principal.account_id),
            "login": principal.login,
            "role": principal.role.value,
            # To the microsecond: a token issued a moment after its account's tokens were
            # revoked must not count as issued before (whole seconds would say it was).
            "iat": now.timestamp(),
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
        if known is not None and time.time() > known.expires_at + CLOCK_LEEWAY_S:
            del self._verified[token]
            raise InvalidToken("the token has expired")
        if known is None:
            known = self._verify(token)
            self._verified[token] = known
            if len(self._verified) > _VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        # Its signature and claims were checked once; time and revocations, every time.
        if self.revoked.refuses(known.token_id, known.principal.account_id, known.issued_at):
            raise InvalidToken("the token has been revoked")
        return known.principal

    def identify(self, token: str) -> TokenIdentity:
        """The token's id, account and expiry, if we signed it (expired or not); InvalidToken
        otherwise."""
        try:
            claims = self._decode(token, verify_exp=False)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not valid") from exc
        principal = _principal(claims)
        return TokenIdentity(_token_id(claims), principal.account_id, _time(claims, "exp"))

    def _decode(self, token: str, *, verify_exp: bool = True) -> dict[str, object]:
        # Only HS256 is accepted: a token claiming "none" or another algorithm is refused
        # before its signature is even looked at.
        claims: dict[str, object] = jwt.decode(
            token,
            self.key,
            algorithms=[ALGORITHM],
            audience=self.audience,
            issuer=self.issuer,
            leeway=CLOCK_LEEWAY_S,
            options={"require": _REQUIRED_CLAIMS, "verify_exp": verify_exp},
        )
        return claims

    def _verify(self, token: str) -> _Verified:
        try:
            claims = self._decode(token)
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not valid") from exc
        return _Verified(
            _principal(claims), _time(claims, "exp"), _token_id(claims), _time(claims, "iat")
        )


def _time(claims: dict[str, object], name: str) -> float:
    value = claims[name]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidToken("the token is not valid")
    return float(value)


def _token_id(claims: dict[str, object]) -> str | None:
    token_id = claims.get("jti")
    return token_id if isinstance(token_id, str) else None


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
