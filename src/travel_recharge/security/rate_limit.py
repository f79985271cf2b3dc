"""Rate limits per principal and per client IP, shared by every worker through Redis.

One Lua script applies GCRA (the generic cell rate algorithm) to a request's buckets at
once: a limit of N per period lets a burst of N through and then one every period/N. The
request is admitted only when every bucket has room, and then counts in all of them; Redis
time is the one clock of all workers and machines. Redis down means no limit (fail open):
limits protect the service, they must not take it down with the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

from redis.typing import EncodableT
from starlette.types import Scope

from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.cache.together import ScriptCall
from travel_recharge.kit.config import Settings
from travel_recharge.kit.errors import TooManyRequests
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.security")

Subject = Literal["principal", "ip"]
_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
_RATE = re.compile(r"^\s*([1-9][0-9]{0,8})\s*/\s*(second|minute|hour)\s*$")

# Set in the ASGI scope's state by code inside the service (never by a client) for requests
# it makes to itself, such as the cache performance test: they are not counted.
UNCOUNTED = "travel_recharge_uncounted"


@lru_cache(maxsize=4096)
def client_key(host: str) -> str:
    """The address a client is counted by: an IPv4 address as it is, an IPv6 one by its /64.

    A single IPv6 host is usually given a whole /64 (SLAAC, privacy addresses) and can use
    any of its 2^64 addresses: per address, it would never be limited."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP address (a unix socket, a test client's name)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # a dual-stack socket's IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def is_uncounted(scope: Scope) -> bool:
    """Whether the service sent this request to itself (see UNCOUNTED)."""
    return bool(scope.get("state", {}).get(UNCOUNTED))


# Route groups and their limits; TR_RATE_LIMITS overrides any of them. "principal" counts
# an authenticated caller (on the token endpoint: the failed attempts of one login from one
# client address), "ip" every request from one client address (client_key). A group without
# a rule for a subject is not limited by it; the health group is never limited (load
# balancers probe it).
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


# KEYS: per bucket, the sorted set of its group and subject. ARGV: per bucket, its member
# (the hashed caller), emission interval and burst tolerance in ms.
# Returns the milliseconds to wait: 0 when admitted (and then counted in every bucket).
# A bucket's state is its TAT (theoretical arrival time), the member's score; a member whose
# TAT has passed holds no debt and is removed, as its own key with a TTL would have expired.
# Sorted sets without a TTL, rather than one key per caller with one: Redis evicts only keys
# with a TTL (volatile-lru), so filling the cache can never evict a limit and reset it.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait, tats = 0, {}
for i, key in ipairs(KEYS) do
    local member = ARGV[3 * i - 2]
    local interval = tonumber(ARGV[3 * i - 1])
    local tolerance = tonumber(ARGV[3 * i])
    local tat = math.max(tonumber(redis.call('ZSCORE', key, member) or now), now)
    wait = math.max(wait, tat - now - tolerance)
    tats[i] = tat + interval
end
if wait > 0 then
    return wait
end
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    redis.call('ZADD', key, tats[i], ARGV[3 * i - 2])
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
        await self.charge({group: 1}, ip, principal)

    async def charge(self, costs: Mapping[str, int], ip: str | None, principal: str | None) -> None:
        """Count `cost` requests in each group's buckets, all at once or none (a request that
        makes others on the caller's behalf); TooManyRequests when one lacks room."""
        call = self.charge_call(costs, ip, principal)
        if call is None:
            return
        try:
            [result] = await self._cache.together([call])
        except CacheUnavailable:
            return  # fail open; the cache client has logged and counted the failure
        if not self.admits(result):
            groups, wait_ms = ", ".join(costs), cast(int, result)
            log_event(logger, "rate_limit.refused", group=groups, wait_ms=wait_ms)
            raise TooManyRequests(
                f"too many requests for {groups}; retry in {math.ceil(wait_ms / 1000)} s",
                retry_after_s=max(1, math.ceil(wait_ms / 1000)),
            )

    def charge_call(
        self, costs: Mapping[str, int], ip: str | None, principal: str | None
    ) -> ScriptCall | None:
        """The script that counts `costs` (see charge), to run alone or with others in one
        round trip (the edge's replay, kit.replay); None when no bucket applies."""
        buckets: list[tuple[str, str, int, int]] = []  # key, member, increment, tolerance (ms)
        for group, cost in costs.items():
            rules = self.limits(group)
            for subject, who in (("principal", principal), ("ip", ip)):
                if who is None or subject not in rules:
                    continue
                rate = rules[subject]
                if cost > rate.count:
                    raise TooManyRequests(
                        f"{cost} requests for {group} at once are more than its limit of "
                        f"{rate} per {subject}",
                        retry_after_s=rate.period_s,
                    )
                # GCRA for `cost` cells: the debt grows by cost intervals, and the request fits
                # while the debt stays within one period (cost=1: Rate.tolerance_ms).
                increment = rate.interval_ms * cost
                buckets.append(
                    (
                        self.bucket_key(group, subject),
                        _member(who),
                        increment,
                        rate.period_s * 1000 - increment,
                    )
                )
        if not buckets:
            return None
        keys = [key for key, _, _, _ in buckets]
        args: list[EncodableT] = [
            value
            for _, member, increment, tolerance in buckets
            for value in (member, increment, tolerance)
        ]
        return ScriptCall(self._script, keys, args)

    @staticmethod
    def admits(result: object) -> bool:
        """Whether the script of charge_call admitted the request (it returns the wait, in
        milliseconds: 0 when admitted)."""
        return cast(int, result) <= 0

    async def forget(self, group: str, subject: Subject, who: str) -> None:
        """Empty one bucket: what it counted no longer counts."""
        if subject not in self.limits(group):
            return
        key, member = self.bucket_key(group, subject), _member(who)
        with contextlib.suppress(CacheUnavailable):  # fail open, like admitting
            await self._cache.call(lambda: self._cache.redis.zrem(key, member))

    def bucket_key(self, group: str, subject: Subject) -> str:
        """The sorted set holding the buckets of one group and subject (see _GCRA)."""
        # Outside the cache namespace: clearing the cache must not reset the limits.
        return f"{state_prefix(self._cache.namespace)}{group}:{subject}"


def state_prefix(namespace: str) -> str:
    """Every limiter key of a namespace starts with this; they have no TTL, so a namespace
    used once (a benchmark's) must delete them itself."""
    return f"rl:{namespace}:"


def _member(who: str) -> str:
    # Hashed: a login or address a client made up cannot make members long or odd.
    return hashlib.blake2b(who.encode(), digest_size=12).hexdigest()
