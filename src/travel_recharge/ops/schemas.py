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


class HealthComponents(BaseModel):
    db: ComponentHealth
    cache: CacheHealth


class ServiceHealth(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: all up; degraded: the cache is down (answers come from PostgreSQL); "
        "down: the database is down"
    )
    version: str
    components: HealthComponents
