"""Coordination of the simulator through Redis: one run at a time, on any worker or machine.

Three keys outside the cache namespace (clearing the cache must not end a run):
    sim:<namespace>:lease  the running run's id; set NX at the start, refreshed every second
                           by its runner, gone within its TTL when the runner dies
    sim:<namespace>:run    a hash: the current (or last) run's settings and counters, which
                           the runner increments (HINCRBY) every second; kept a while after
    sim:<namespace>:stop   the id of a run asked to stop; its runner sees it within a second
Each step is one Lua script, so a start, a heartbeat and an end are atomic with respect to
each other and to stop requests. Every call raises CacheUnavailable when Redis cannot answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from travel_recharge.kit.cache import Cache

# The last run's figures stay readable this long after it ended.
RUN_RECORD_TTL_S = 7 * 24 * 3600
# A stop request waits this long for its runner (which deletes it when it ends).
STOP_REQUEST_TTL_MS = 60_000

# KEYS: lease, run, stop. ARGV: run id, lease TTL (ms), record TTL (s), then field/value pairs.
_START = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 0
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'run_id', ARGV[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# Applies a run's counter increments and fields to the record, if the record is still that
# run's. ARGV from `first`: the number of increments n, n field/increment pairs, then
# field/value pairs.
_APPLY = """
local function apply(run_key, run_id, first)
    if redis.call('HGET', run_key, 'run_id') ~= run_id then
        return
    end
    local n = tonumber(ARGV[first])
    local i = first + 1
    while i < first + 1 + 2 * n do
        redis.call('HINCRBY', run_key, ARGV[i], ARGV[i + 1])
        i = i + 2
    end
    while i < #ARGV do
        redis.call('HSET', run_key, ARGV[i], ARGV[i + 1])
        i = i + 2
    end
end
"""

# KEYS: lease, run, stop. ARGV: run id, lease TTL (ms), then as _APPLY.
# Returns 0 when the lease is not this run's any more, 2 when it was asked to stop, else 1.
# The counters count even then: they are what the server did for this run.
_HEARTBEAT = (
    _APPLY
    + """
apply(KEYS[2], ARGV[1], 3)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[3]) == ARGV[1] then
    return 2
end
return 1
"""
)

# KEYS: lease, run, stop. ARGV: run id, then as _APPLY. Records the end and lets go.
_FINISH = (
    _APPLY
    + """
apply(KEYS[2], ARGV[1], 2)
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
    redis.call('DEL', KEYS[3])
end
return 1
"""
)

# KEYS: lease, stop. ARGV: the request's TTL (ms). Returns the id of the run asked to stop.
_STOP = """
local owner = redis.call('GET', KEYS[1])
if not owner then
    return false
end
redis.call('SET', KEYS[2], owner, 'PX', ARGV[1])
return owner
"""


class Beat(Enum):
    LOST = 0  # another run holds the lease, or none does: this runner must stop
    OWNED = 1
    STOP = 2  # an operator asked this run to stop


@dataclass(frozen=True)
class RunRecord:
    """What Redis says: who holds the lease, which run was asked to stop, the run's hash."""

    lease_owner: str | None
    stop_requested: str | None
    fields: dict[str, str]


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _changes(increments: Mapping[str, int], fields: Mapping[str, str]) -> list[str | int]:
    args: list[str | int] = [len(increments)]
    for name, amount in increments.items():
        args += [name, amount]
    for name, value in fields.items():
        args += [name, value]
    return args


class Control:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        base = f"sim:{cache.namespace}"
        self.lease_key, self.run_key, self.stop_key = (
            f"{base}:lease",
            f"{base}:run",
            f"{base}:stop",
        )
        redis = cache.redis
        self._start = redis.register_script(_START)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._finish = redis.register_script(_FINISH)
        self._stop = redis.register_script(_STOP)

    @property
    def _keys(self) -> list[str]:
        return [self.lease_key, self.run_key, self.stop_key]

    async def acquire(self, run_id: str, lease_ttl_ms: int, fields: Mapping[str, str]) -> bool:
        """Take the lease for a new run and start its record; False when a run holds it."""
        args: list[str | int] = [run_id, lease_ttl_ms, RUN_RECORD_TTL_S]
        for name, value in fields.items():
            args += [name, value]
        started = await self._cache.call(lambda: self._start(keys=self._keys, args=args))
        return bool(int(started))

    async def heartbeat(
        self,
        run_id: str,
        lease_ttl_ms: int,
        increments: Mapping[str, int],
        fields: Mapping[str, str],
    ) -> Beat:
        """Refresh the lease, add the counters, and learn whether to go on."""
        args: list[str | int] = [run_id, lease_ttl_ms, *_changes(increments, fields)]
        answer = await self._cache.call(lambda: self._heartbeat(keys=self._keys, args=args))
        return Beat(int(answer))

    async def finish(
        self, run_id: str, increments: Mapping[str, int], fields: Mapping[str, str]
    ) -> None:
        """Record the run's last counters and its end, and give the lease back."""
        args: list[str | int] = [run_id, *_changes(increments, fields)]
        await self._cache.call(lambda: self._finish(keys=self._keys, args=args))

    async def request_stop(self) -> str | None:
        """Ask the running run to stop; its id, or None when none runs."""
        keys, args = [self.lease_key, self.stop_key], [STOP_REQUEST_TTL_MS]
        return _text(await self._cache.call(lambda: self._stop(keys=keys, args=args)))

    async def read(self) -> RunRecord:
        async def fetch() -> list[object]:
            async with self._cache.redis.pipeline(transaction=True) as pipe:
                pipe.get(self.lease_key)
                pipe.get(self.stop_key)
                pipe.hgetall(self.run_key)
                result: list[object] = await pipe.execute()
                return result

        lease, stop, raw = await self._cache.call(fetch)
        fields = {
            str(_text(name)): str(_text(value))
            for name, value in (raw.items() if isinstance(raw, dict) else ())
        }
        return RunRecord(_text(lease), _text(stop), fields)
