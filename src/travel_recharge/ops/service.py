"""Health checks: each bounded in time, so a hung component is reported, never waited on."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.db import Database
from travel_recharge.ops.schemas import (
    CacheHealth,
    ComponentHealth,
    HealthComponents,
    ServiceHealth,
)

VERSION = "0.1.0"


async def check_database(database: Database, timeout_s: float) -> ComponentHealth:
    started = time.perf_counter()
    try:
        engine = database.health or database.primary
        async with asyncio.timeout(timeout_s), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return ComponentHealth(status="down", latency_ms=None, detail="timed out")
    except Exception as exc:  # any driver or network failure means "down", with its kind
        return ComponentHealth(status="down", latency_ms=None, detail=type(exc).__name__)
    return ComponentHealth(status="ok", latency_ms=_elapsed_ms(started))


async def check_cache(cache: Cache) -> CacheHealth:
    try:
        probe = await cache.probe()
    except CacheUnavailable as exc:
        return CacheHealth(status="down", latency_ms=None, detail=str(exc))
    return CacheHealth(
        status="ok",
        latency_ms=round(probe.latency_ms, 3),
        role=probe.role,
        master=probe.master,
        epoch=probe.epoch,
    )


async def check_service(database: Database, cache: Cache, db_timeout_s: float) -> ServiceHealth:
    db, cache_health = await asyncio.gather(
        check_database(database, db_timeout_s), check_cache(cache)
    )
    if db.status == "down":
        status = "down"
    elif cache_health.status == "down":
        status = "degraded"
    else:
        status = "ok"
    return ServiceHealth(
        status=status, version=VERSION, components=HealthComponents(db=db, cache=cache_health)
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
