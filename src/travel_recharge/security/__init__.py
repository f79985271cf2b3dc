"""Authentication (OAuth2 tokens), roles, rate limits: who may call what, how often.

Routers declare access with `public`, `allow` or `allow_owner` (see access.py).
"""

from travel_recharge.security.access import (
    CurrentPrincipal,
    allow,
    allow_owner,
    charge_caller,
    public,
)
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal

__all__ = [
    "CurrentPrincipal",
    "Principal",
    "Role",
    "allow",
    "allow_owner",
    "charge_caller",
    "public",
]
