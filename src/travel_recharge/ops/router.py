"""Health endpoints: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from fastapi import APIRouter, Response

from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import DatabaseDep
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.ops import service
from travel_recharge.ops.database_health import check_database
from travel_recharge.ops.schemas import CacheHealth, DatabaseHealth, ServiceHealth
from travel_recharge.security import public

router = APIRouter(
    prefix="/api/v1/health",
    tags=["health"],
    route_class=StrictJSONRoute,
    dependencies=[public("health")],
)


@router.get("", response_model=ServiceHealth, responses={503: {"model": ServiceHealth}})
async def overall_health(
    database: DatabaseDep, cache: CacheDep, settings: SettingsDep, response: Response
) -> ServiceHealth:
    """Overall status with database and cache components; degraded when only the cache is down."""
    health = await service.check_service(database, cache, settings.db_health_timeout_s)
    if health.status == "down":
        response.status_code = 503
    return health


@router.get("/db", response_model=DatabaseHealth, responses={503: {"model": DatabaseHealth}})
async def database_health(
    database: DatabaseDep, settings: SettingsDep, response: Response
) -> DatabaseHealth:
    """PostgreSQL: 200 while the primary answers; its role, and the replica's role and lag."""
    health = await check_database(database, settings.db_health_timeout_s)
    if health.status == "down":
        response.status_code = 503
    return health


@router.get("/cache", response_model=CacheHealth, responses={503: {"model": CacheHealth}})
async def cache_health(cache: CacheDep, response: Response) -> CacheHealth:
    """Redis connectivity, round-trip latency, the server's role, the master and cache epoch."""
    health = await service.check_cache(cache)
    if health.status == "down":
        response.status_code = 503
    return health
