"""Passwords and client secrets: argon2id hashes, verified off the event loop."""

from __future__ import annotations

import asyncio
import secrets
from functools import lru_cache
from weakref import WeakKeyDictionary

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes, 4 lanes).
_hasher = PasswordHasher()

# Each verification holds 64 MiB for ~50 ms: a few at a time per worker bound the memory a
# flood of logins can take (the rate limit bounds how many arrive).
_VERIFY_SLOTS = 4


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def new_secret() -> str:
    """A random secret for a device or a demo account (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash(new_secret())


# One limiter per event loop (asyncio primitives belong to the loop they were first used on).
_limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = WeakKeyDictionary()


def _verify_limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(_VERIFY_SLOTS)
    return limiter


def _verify(secret_hash: str | None, secret: str) -> bool:
    try:
        # An unknown login is checked against a decoy, so it takes as long as a wrong
        # password: response times do not tell which logins exist.
        _hasher.verify(secret_hash or _decoy_hash(), secret)
    except (VerificationError, InvalidHashError):
        return False
    return secret_hash is not None


async def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when `secret` matches the hash; None (no such account) never matches."""
    return await anyio.to_thread.run_sync(_verify, secret_hash, secret, limiter=_verify_limiter())
