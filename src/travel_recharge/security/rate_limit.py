"""Rate limits per principal and per client IP, shared by every worker through Redis.

One Lua script applies GCRA (the generic cell rate algorithm) to a request's buckets at
once: a limit of N per period lets a burst of N through and then one every period/N. The
request is admitted only when every bucket has room, and then counts in all of them; Redis
time is the one clock of all workers and machines. Redis down means no limit (fail open):
limits protect the service, they must not take it down with the cache.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from starlette.types import Scope

from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.config import Settings
from travel_recharge.kit.errors import TooManyRequests
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.security")

Subject = Literal["principal", "ip"]
_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
_RATE = re.compile(r"^\s*([1-9][0-9]{0,8})\s*/\s*(second|minute|hour)\s*$")

# Route groups and their limits; TR_RATE_LIMITS overrides any of them. "principal" counts
# an authenticated caller (on the token endpoint: the login being tried), "ip" every request
# from one client address. A group without a rule for a subject is not limited by it; the
# health group is never limited (load balancers probe it).
# Set in the ASGI scope's state by code inside the service (never by a client) for requests
# it makes to itself, such as the cache performance test: they are not counted.
UNCOUNTED = "travel_recharge_uncounted"


def is_uncounted(scope: Scope) -> bool:
    """Whether the service sent this request to itself (see UNCOUNTED)."""
    return bool(scope.get("state", {}).get(UNCOUNTED))


DEFAULT_LIMITS: dict[str, dict[Subject, str]] = {
    "auth": {"principal": "10/minute", "ip": "60/minute"},
    "account": {"principal": "120/minute", "ip": "1200/minute"},
    "reference": {"ip": "1200/minute"},
    "cards": {"principal": "120/minute", "ip": "1200/minute"},
    "recharges": {"principal": "300/minute", "ip": "3000/minute"},
    # A validator taps at most every few seconds; a station gateway may carry hundreds.
    "taps": {"principal": "600/minute", "ip": "60000/minute"},
    "operations": {"principal": "300/minute", "ip": "1200/minute"},
    "analytics": {"principal": "600/minute", "ip": "1200/minute"},
    "admin": {"principal": "300/minute", "ip": "600/minute"},
    # Prometheus scrapes every 15 s per target; a few HA replicas may share one account.
    "metrics": {"principal": "60/minute", "ip": "120/minute"},
    # The web pages themselves (static HTML); their data comes through the API's own groups.
    "web": {"ip": "600/minute"},
    "health": {},
}

# More than any test or benchmark sends: the limiter runs on every request, refusing none.
UNREACHABLE = "100000000/hour"


def unreachable_limits() -> dict[str, dict[Subject, str]]:
    return {group: {"principal": UNREACHABLE, "ip": UNREACHABLE} for group in DEFAULT_LIMITS}


# KEYS: the buckets. ARGV: per bucket, its emission interval and burst tolerance in ms.
# Returns the milliseconds to wait: 0 when admitted (and then counted in every bucket).
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait, tats = 0, {}
for i, key in ipairs(KEYS) do
    local interval = tonumber(ARGV[2 * i - 1])
    local tolerance = tonumber(ARGV[2 * i])
    local tat = math.max(tonumber(redis.call('GET', key) or now), now)
    wait = math.max(wait, tat - now - tolerance)
    tats[i] = tat + interval
end
if wait > 0 then
    return wait
end
for i, key in ipairs(KEYS) do
    redis.call('SET', key, tats[i], 'PX', tats[i] - now)
end
return 0
"""


@dataclass(frozen=True)
class Rate:
    count: int
    period_s: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a rate like '600/minute' (second, minute, hour)")
        return cls(int(match.group(1)), _PERIODS[match.group(2)])

    def __str__(self) -> str:
        period = next(name for name, seconds in _PERIODS.items() if seconds == self.period_s)
        return f"{self.count}/{period}"

    @property
    def interval_ms(self) -> int:
        return max(1, self.period_s * 1000 // self.count)

    @property
    def tolerance_ms(self) -> int:
        # A burst of `count` fits: the bucket admits while its debt is below one period.
        return self.period_s * 1000 - self.interval_ms


def limits_from(
    enabled: bool, overrides: Mapping[str, Mapping[Subject, str]]
) -> dict[str, dict[Subject, Rate]]:
    """The limits in force: the defaults with the configured groups replaced."""
    if not enabled:
        return {}
    merged = {**DEFAULT_LIMITS, **overrides}
    return {
        group: {subject: Rate.parse(text) for subject, text in rules.items()}
        for group, rules in merged.items()
    }


class RateLimiter:
    def __init__(self, cache: Cache, limits: dict[str, dict[Subject, Rate]]) -> None:
        self._cache = cache
        self._limits = limits
        self._script = cache.redis.register_script(_GCRA)

    @classmethod
    def from_settings(cls, cache: Cache, settings: Settings) -> RateLimiter:
        return cls(cache, limits_from(settings.rate_limits_enabled, settings.rate_limits))

    def limits(self, group: str) -> dict[Subject, Rate]:
        return self._limits.get(group, {})

    async def admit(self, group: str, ip: str | None, principal: str | None) -> None:
        """Count the request in its group's buckets; TooManyRequests when one is full."""
        rules = self.limits(group)
        buckets = [
            (self._key(group, subject, who), rules[subject])
            for subject, who in (("principal", principal), ("ip", ip))
            if who is not None and subject in rules
        ]
        if not buckets:
            return
        keys = [key for key, _ in buckets]
        args = [ms for _, rate in buckets for ms in (rate.interval_ms, rate.tolerance_ms)]
        try:
            wait_ms = int(await self._cache.call(lambda: self._script(keys=keys, args=args)))
        except CacheUnavailable:
            return  # fail open; the cache client has logged and counted the failure
        if wait_ms > 0:
            log_event(logger, "rate_limit.refused", group=group, wait_ms=wait_ms)
            raise TooManyRequests(
                f"too many requests for {group}; retry in {math.ceil(wait_ms / 1000)} s",
                retry_after_s=max(1, math.ceil(wait_ms / 1000)),
            )

    def _key(self, group: str, subject: Subject, who: str) -> str:
        # Hashed: a login or address a client made up cannot make keys long or odd.
        digest = hashlib.blake2b(who.encode(), digest_size=12).hexdigest()
        # Outside the cache namespace: clearing the cache must not reset the limits.
        return f"rl:{self._cache.namespace}:{group}:{subject}:{digest}"
