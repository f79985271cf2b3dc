"""Lua scripts of the read-through protocol (see ReadThrough.read).

Each one runs atomically inside Redis, so a reader, a filler and a writer's invalidation can
interleave only between whole scripts. Key layout of a view `field` of group `group`:
    {prefix}{group}:gen            generation token; a writer replaces it after its commit
    {prefix}{group}:f:{field}      "<token>|<expires_at_ms>|<payload>"
    {prefix}{group}:lock:{field}   "<token>|<owner>": the one caller recomputing the view
Expiry is stored in the value (Redis server time) rather than left to the key's TTL alone, so
an expired value can still be told apart from an invalidated one and, for views that accept
it, served while someone recomputes it.
"""

from __future__ import annotations

# Redis server time in milliseconds: one clock for every worker and machine.
_NOW_MS = """
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Reads the value in KEYS[2] as of generation `token`: `current` when it was written under
# that token, then its `payload`, and `fresh` while its TTL has not run out.
_READ_VALUE = (
    """
local raw = redis.call('GET', KEYS[2])
local current, fresh, payload = false, false, ''
if raw then
    local first = string.find(raw, '|', 1, true)
    if first and string.sub(raw, 1, first - 1) == token then
        local second = string.find(raw, '|', first + 1, true)
        payload = string.sub(raw, second + 1)
        current = true
"""
    + _NOW_MS
    + """
        fresh = now_ms < tonumber(string.sub(raw, first + 1, second - 1))
    end
end
"""
)

# KEYS: gen, value, lock. ARGV: owner, lock_ttl_ms, a new token, token ttl_s.
# Returns {state, token, payload, locked}: state is hit, expired (token still current: only
# the TTL ran out) or miss; locked is 1 when this caller now holds the recompute lock.
# A group without a generation token gets one here, not at its first fill: otherwise a view
# filled while another view of the group is being computed (one read inside the other, or
# two first reads at once) would create it, and the other fill, which saw none, would be
# refused as if a writer had invalidated the group.
LOOKUP = (
    """
local token = redis.call('GET', KEYS[1])
if not token then
    token = ARGV[3]
    redis.call('SET', KEYS[1], token, 'EX', ARGV[4])
end
"""
    + _READ_VALUE
    + """
if fresh then
    return {'hit', token, payload, 0}
end
local state = current and 'expired' or 'miss'
local holder = redis.call('GET', KEYS[3])
-- A lock taken under an older generation guards a fill that will be refused: take it over.
if holder and string.sub(holder, 1, #token + 1) == token .. '|' then
    return {state, token, payload, 0}
end
redis.call('SET', KEYS[3], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return {state, token, payload, 1}
"""
)

# KEYS: gen, value. The payload of a fresh value of the current generation, or false.
# LOOKUP without its side effects (no token made, no lock taken), for the edge's replay of a
# cached answer (kit.replay): on anything but a hit the request goes on to the route, whose
# own LOOKUP then decides who recomputes.
PEEK = (
    """
local token = redis.call('GET', KEYS[1])
if not token then
    return false
end
"""
    + _READ_VALUE
    + """
if fresh then
    return payload
end
return false
"""
)

# KEYS: gen, value, lock. ARGV: the token LOOKUP gave, payload, ttl_ms, keep_ms (ttl plus
# the stale grace), token ttl_s, lock value to release.
# Fills only if the generation token is still the one seen before PostgreSQL was queried:
# a write that committed in between has replaced it, so pre-commit data is never stored.
FILL = (
    """
local current = redis.call('GET', KEYS[1])
local filled = 0
if current == ARGV[1] then
"""
    + _NOW_MS
    + """
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    local expires = string.format('%d', now_ms + tonumber(ARGV[3]))
    redis.call('SET', KEYS[2], current .. '|' .. expires .. '|' .. ARGV[2], 'PX', ARGV[4])
    filled = 1
end
if redis.call('GET', KEYS[3]) == ARGV[6] then redis.call('DEL', KEYS[3]) end
return filled
"""
)

# KEYS: lock. ARGV: lock value. Only the holder releases (a lock that expired and was taken
# by another caller stays theirs).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
