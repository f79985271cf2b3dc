"""Health answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentState = Literal["ok", "down"]


class ComponentHealth(BaseModel):
    status: ComponentState
    latency_ms: float | None = Field(description="Round-trip time of the check; null when down")
    detail: str | None = Field(default=None, description="Why the component is down")


class CacheHealth(ComponentHealth):
    role: Literal["master", "replica"] | None = Field(
        default=None, description="Role of the Redis server answering; null when down"
    )
    master: str | None = Field(
        default=None,
        description="host:port of the master the Sentinels name; null without Sentinels",
    )
    epoch: str | None = Field(
        default=None,
        description="Cache epoch: part of every cache key, new with every new master; "
        "null when down",
    )


DatabaseRole = Literal["primary", "replica"]


class ReplicaHealth(BaseModel):
    """The read replica (TR_DATABASE_REPLICA_URL), as this worker sees it."""

    status: ComponentState
    latency_ms: float | None = Field(description="Round-trip time of the check; null when down")
    role: DatabaseRole | None = Field(
        description="replica while it is in recovery (pg_is_in_recovery()); primary if the "
        "replica URL reaches a server that accepts writes; null when down"
    )
    lag_bytes: int | None = Field(
        description="WAL the replica has yet to replay: the primary's current WAL position "
        "minus the replica's replay position (0: caught up); null when either is unknown"
    )
    lag_s: float | None = Field(
        description="0 when caught up (lag_bytes 0); else how long ago the newest transaction "
        "the replica replayed was committed; null when unknown"
    )
    reads_on_primary: bool = Field(
        description="Read-only queries are sent to the primary because the replica did not "
        "answer a moment ago (TR_DB_REPLICA_DOWN_S)"
    )
    detail: str | None = Field(default=None, description="Why the replica is down")


class DatabaseHealth(ComponentHealth):
    role: DatabaseRole | None = Field(
        default=None,
        description="What the primary URL reaches (pg_is_in_recovery()): primary, or replica "
        "(a server in recovery, which refuses writes, e.g. mid-failover); null when down",
    )
    replica: ReplicaHealth | None = Field(
        default=None, description="The read replica; null when none is configured"
    )


class HealthComponents(BaseModel):
    db: DatabaseHealth
    cache: CacheHealth


class ServiceHealth(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: all up; degraded: the cache is down (answers come from PostgreSQL); "
        "down: the database is down"
    )
    version: str
    components: HealthComponents
