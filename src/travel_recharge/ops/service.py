"""Health checks: each bounded in time, so a hung component is reported, never waited on."""

from __future__ import annotations

import asyncio

from travel_recharge.kit.cache import Cache, CacheUnavailable
from travel_recharge.kit.db import Database
from travel_recharge.ops.database_health import check_database
from travel_recharge.ops.schemas import CacheHealth, HealthComponents, ServiceHealth

VERSION = "0.1.0"


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
