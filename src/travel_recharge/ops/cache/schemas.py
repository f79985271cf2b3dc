"""Cache administration answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BreakerState = Literal["closed", "open", "half_open"]
RedisStatus = Literal["ok", "down"]


class GroupStats(BaseModel):
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses); null before any lookup")
    computed: int = Field(description="misses this process computed from PostgreSQL")
    waited: int = Field(description="misses answered by another worker's fill after a wait")
    served_stale: int = Field(description="misses answered with the expired previous value")
    coalesced: int = Field(description="misses that shared a load running in this process")
    wait_timeouts: int = Field(description="waits that ran out, then computed here")


class ProcessStats(BaseModel):
    pid: int = Field(description="the worker process these figures belong to")
    groups: dict[str, GroupStats] = Field(description="by namespace (a group's first segment)")
    total: GroupStats
    errors: int = Field(description="Redis calls that failed or timed out")
    skipped_open_circuit: int = Field(description="Redis calls skipped while the breaker was open")
    breaker: BreakerState


class RedisFigures(BaseModel):
    redis_version: str
    used_memory: int = Field(description="bytes")
    used_memory_human: str
    keyspace_hits: int = Field(description="server-wide, every client")
    keyspace_misses: int = Field(description="server-wide, every client")
    instantaneous_ops_per_sec: int
    connected_clients: int
    namespace_keys: int = Field(description="keys under our namespace prefix (SCAN)")
    namespace_keys_complete: bool = Field(
        description="false when the count stopped at its bound and is a lower bound"
    )
    namespace_keys_age_s: float = Field(
        description="how old the count is: a worker counts at most every 5 s and shares it"
    )


class CacheStatsOut(BaseModel):
    namespace: str
    key_prefix: str = Field(description="every key the service owns starts with this")
    process: ProcessStats
    redis_status: RedisStatus
    redis_detail: str | None = Field(description="why Redis could not be asked")
    redis: RedisFigures | None = Field(description="null when Redis does not answer")


class CacheKey(BaseModel):
    key: str = Field(description="the full Redis key, namespace prefix included")
    ttl_ms: int | None = Field(description="PTTL; null for a key without expiry")
    size_bytes: int | None = Field(description="MEMORY USAGE; null when Redis does not say")


class KeyPage(BaseModel):
    pattern: str = Field(description="the SCAN MATCH pattern used (always within the namespace)")
    keys: list[CacheKey]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: done")


class CacheHealthOut(BaseModel):
    status: RedisStatus
    latency_ms: float | None = Field(description="PING round trip; null when down")
    detail: str | None = Field(description="why Redis is down")
    breaker: BreakerState
    namespace: str
    role: Literal["master", "replica"] | None = Field(
        description="role of the Redis server answering; null when down"
    )
    master: str | None = Field(
        description="host:port of the master the Sentinels name; null without Sentinels"
    )
    epoch: str | None = Field(description="cache epoch of the keys (new with every new master)")


class ClearOut(BaseModel):
    deleted: int = Field(description="keys of our namespace unlinked")
    invalidated: int = Field(
        description="generation tokens replaced instead of deleted, so that no fill computed "
        "before the clear can land afterwards"
    )


class DeletedKeyOut(BaseModel):
    key: str
    action: Literal["deleted", "invalidated"] = Field(
        description="invalidated: a generation token was replaced (every view of its group "
        "is stale), not deleted"
    )


class LatencySummary(BaseModel):
    samples: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float


class EndpointComparison(BaseModel):
    path: str
    status: int = Field(description="the endpoint's HTTP status; only 2xx ones are measured")
    cold: LatencySummary | None = Field(description="computed from PostgreSQL, no Redis at all")
    warm: LatencySummary | None = Field(description="served from Redis (a scratch copy)")
    warm_hits: int = Field(description="warm samples that really were cache hits")
    speedup_p50: float | None = Field(description="cold p50 / warm p50")
    speedup_p99: float | None = Field(description="cold p99 / warm p99")


class PerformanceOut(BaseModel):
    samples: int
    method: str
    endpoints: list[EndpointComparison]
