"""Redis as an accelerator: bounded timeouts, a circuit breaker, fail-open operations.

Nothing here raises because Redis is down, slow or wiped: a failed read is a miss, a failed
write or delete is skipped (and counted), so every answer can still come from PostgreSQL.
"""

from travel_recharge.kit.cache.breaker import CacheUnavailable, CircuitBreaker
from travel_recharge.kit.cache.client import (
    KEY_VERSION,
    Cache,
    CacheDep,
    IsolatedScope,
    ServerProbe,
    get_cache,
)
from travel_recharge.kit.cache.read_through import StampedePolicy
from travel_recharge.kit.cache.stats import CacheStats

__all__ = [
    "KEY_VERSION",
    "Cache",
    "CacheDep",
    "CacheStats",
    "CacheUnavailable",
    "CircuitBreaker",
    "IsolatedScope",
    "ServerProbe",
    "StampedePolicy",
    "get_cache",
]
