"""The token signing key: strong in production, generated for a laptop."""

from __future__ import annotations

import logging
import secrets

from travel_recharge.kit.config import Settings
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.security")

# RFC 7518 §3.2: an HS256 key has at least 256 bits. A key typed by a person is weaker per
# character than random bytes, so short or repetitive keys are refused too.
MIN_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 16
_PLACEHOLDERS = ("changeme", "change-me", "secret", "password", "example", "default")
HOW_TO_MAKE_ONE = (
    'make one with: python -c "import secrets; print(secrets.token_urlsafe(48))" '
    "and set it as TR_AUTH_SIGNING_KEY"
)


class WeakSigningKey(RuntimeError):
    """Production refuses to start without a strong signing key."""


def key_problem(key: str | None) -> str | None:
    """Why `key` is not a strong signing key, or None when it is."""
    if not key:
        return "TR_AUTH_SIGNING_KEY is not set"
    if len(key) < MIN_KEY_LENGTH:
        return f"TR_AUTH_SIGNING_KEY is shorter than {MIN_KEY_LENGTH} characters"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return "TR_AUTH_SIGNING_KEY repeats too few characters to be random"
    if any(word in key.lower() for word in _PLACEHOLDERS):
        return "TR_AUTH_SIGNING_KEY contains a placeholder word"
    return None


def new_signing_key() -> str:
    return secrets.token_urlsafe(48)


def signing_key(settings: Settings) -> str:
    """The key tokens are signed with.

    Production: the configured key, which must be strong (WeakSigningKey otherwise).
    Elsewhere a weak key is used with a warning and a missing one is generated for this
    process; `travel-recharge serve` generates one for all its workers instead, so a token
    from one worker is good at every other.
    """
    configured = settings.auth_signing_key.get_secret_value() if settings.auth_signing_key else None
    problem = key_problem(configured)
    if problem is None and configured:
        return configured
    if settings.env == "production":
        raise WeakSigningKey(f"refusing to start in production: {problem}; {HOW_TO_MAKE_ONE}")
    if configured:
        log_event(logger, "auth.weak_signing_key", logging.WARNING, problem=problem)
        return configured
    log_event(logger, "auth.generated_signing_key", logging.WARNING, scope="process")
    return new_signing_key()
