"""Health answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentState = Literal["ok", "down"]


class ComponentHealth(BaseModel):
    status: ComponentState
    latency_ms: float | None = Field(description="Round-trip time of the check; null when down")
    detail: str | None = Field(default=None, description="Why the component is down")


class HealthComponents(BaseModel):
    db: ComponentHealth
    cache: ComponentHealth


class ServiceHealth(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: all up; degraded: the cache is down (answers come from PostgreSQL); "
        "down: the database is down"
    )
    version: str
    components: HealthComponents
