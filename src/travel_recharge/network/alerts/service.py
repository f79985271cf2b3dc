"""Service alerts: whom they inform, when they are in force, which cached views they touch.

An alert names a station, a route, or both (that route at that station only, like a
GTFS-Realtime informed entity carrying both ids). A station's alert view lists the station's
own alerts and the route-wide alerts of every route calling at it; so a write invalidates
exactly the views it changes: the named station's, or those of every station of the route.

Each station's views live in the cache group "alerts:station:<id>" (TTL cache_ttl_alerts_s):
- "current": every alert not resolved and not ended when loaded, future ones included. Which
  of them are in force is decided on each request, so an alert starts and ends showing at
  the exact second of its period, without waiting for the TTL; only writes change the set.
- "history:<limit>:<offset>": pages of all the station's alerts, whatever their state.
The network's feed (GTFS-Realtime, network.realtime) is one view, "current" in the group
"alerts:feed": every alert not resolved and not ended when loaded; every write invalidates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import ReadSession, UnitOfWork
from travel_recharge.kit.errors import Conflict, NotFound, Unprocessable
from travel_recharge.kit.pagination import Page
from travel_recharge.kit.views import Reads
from travel_recharge.models import Alert
from travel_recharge.network import repository
from travel_recharge.network.errors import RouteNotFound
from travel_recharge.network.schemas import (
    AlertCreate,
    AlertOut,
    AlertRecord,
    AlertUpdate,
    Cause,
    Effect,
    Severity,
    StationAlertsOut,
)
from travel_recharge.network.service import require_station

FEED_GROUP = "alerts:feed"


def station_alerts_group(station_id: int) -> str:
    return f"alerts:station:{station_id}"


class _CachedStationAlerts(BaseModel):
    station_id: int
    station_code: str
    station_name: str
    alerts: list[AlertRecord]


def is_active(alert: AlertRecord, now: datetime) -> bool:
    """In force: not resolved, started, and not yet ended (active_until is exclusive)."""
    return (
        alert.resolved_at is None
        and alert.active_from <= now
        and (alert.active_until is None or now < alert.active_until)
    )


def _record(row: repository.AlertRow | tuple[Alert, str | None, str | None]) -> AlertRecord:
    alert, station_code, route_code = row
    return AlertRecord(
        alert_id=alert.id,
        station_id=alert.station_id,
        station_code=station_code,
        route_code=route_code,
        # Stored values come only through AlertCreate/AlertUpdate (and a CHECK on severity).
        severity=cast(Severity, alert.severity),
        cause=cast(Cause, alert.cause),
        effect=cast(Effect, alert.effect),
        message=alert.message,
        active_from=alert.active_from,
        active_until=alert.active_until,
        resolved_at=alert.resolved_at,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
    )


def _out(record: AlertRecord, now: datetime) -> AlertOut:
    return AlertOut(**record.model_dump(), active=is_active(record, now))


async def station_alerts(
    reads: Reads, station_id: int, *, active_only: bool, page: Page, now: datetime
) -> bytes:
    """The station's alerts in force at `now` (active_only) or all of them, newest first."""

    async def produce(session: ReadSession) -> _CachedStationAlerts:
        station = await require_station(session, station_id)
        if active_only:
            rows = await repository.alerts_at_station(session, station_id, not_over_at=now)
        else:
            rows = await repository.alerts_at_station(
                session, station_id, limit=page.limit, offset=page.offset
            )
        return _CachedStationAlerts(
            station_id=station.id,
            station_code=station.code,
            station_name=station.name,
            alerts=[_record(row) for row in rows],
        )

    field = "current" if active_only else f"history:{page.cache_field}"
    ttl = reads.settings.cache_ttl_alerts_s
    # The current alerts are one view; history pages only the pages the cache keeps.
    cacheable = active_only or page.cacheable
    raw = await reads.view(
        station_alerts_group(station_id), field, ttl, produce, stale_ok=True, cacheable=cacheable
    )
    cached = _CachedStationAlerts.model_validate_json(raw)
    alerts = [_out(record, now) for record in cached.alerts]
    if active_only:
        alerts = [alert for alert in alerts if alert.active][page.offset : page.offset + page.limit]
    answer = StationAlertsOut(
        station_id=cached.station_id,
        station_code=cached.station_code,
        station_name=cached.station_name,
        active_only=active_only,
        alerts=alerts,
        page=page.info(len(alerts)),
    )
    return answer.model_dump_json().encode()


class FeedAlert(BaseModel):
    """An alert with the GTFS ids of the station and route it informs, for the feed."""

    alert: AlertRecord
    stop_id: str | None
    route_id: str | None


class _CachedAlerts(BaseModel):
    alerts: list[FeedAlert]


async def alerts_not_over(reads: Reads, now: datetime) -> list[FeedAlert]:
    """Every alert of the network neither resolved nor ended at `now`, future ones included,
    newest active_from first."""

    async def produce(session: ReadSession) -> _CachedAlerts:
        rows = await repository.alerts_not_over(session, now)
        return _CachedAlerts(
            alerts=[
                FeedAlert(
                    alert=_record((alert, station_code, route_code)),
                    stop_id=stop_id,
                    route_id=route_id,
                )
                for alert, station_code, route_code, stop_id, route_id in rows
            ]
        )

    ttl = reads.settings.cache_ttl_alerts_s
    raw = await reads.view(FEED_GROUP, "current", ttl, produce, stale_ok=True)
    # The view was loaded earlier: drop what ended since (resolutions invalidate it).
    alerts = _CachedAlerts.model_validate_json(raw).alerts
    return [a for a in alerts if a.alert.active_until is None or now < a.alert.active_until]


def _check_period(active_from: datetime, active_until: datetime | None) -> None:
    if active_until is not None and active_until <= active_from:
        raise Unprocessable(f"active_until: must be after active_from ({active_from.isoformat()})")


async def _informed_stations(session: AsyncSession, alert: Alert) -> Sequence[int]:
    if alert.station_id is not None:
        return [alert.station_id]
    # The has_subject CHECK guarantees a route when there is no station.
    assert alert.route_id is not None
    return await repository.stations_of_route(session, alert.route_id)


async def _invalidate_after_commit(uow: UnitOfWork, cache: Cache, alert: Alert) -> None:
    stations = await _informed_stations(uow.session, alert)
    groups = [FEED_GROUP, *(station_alerts_group(s) for s in stations)]

    async def invalidate() -> None:
        await cache.invalidate(*groups)

    uow.after_commit(invalidate)


async def _answer(session: AsyncSession, alert_id: int, now: datetime) -> AlertOut:
    row = await repository.alert_with_codes(session, alert_id)
    assert row is not None  # written or locked in this same transaction
    return _out(_record(row), now)


async def _lock(session: AsyncSession, alert_id: int) -> Alert:
    alert = await repository.lock_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


async def create(
    uow: UnitOfWork, cache: Cache, request: AlertCreate, now: datetime, *, actor: Actor
) -> AlertOut:
    session = uow.session
    if request.station_id is None and request.route_code is None:
        raise Unprocessable("station_id: give station_id, route_code or both")
    active_from = request.active_from or now
    _check_period(active_from, request.active_until)
    if request.station_id is not None:
        await require_station(session, request.station_id)
    route_id: int | None = None
    if request.route_code is not None:
        route = await repository.route_by_code(session, request.route_code)
        if route is None:
            raise RouteNotFound(request.route_code)
        route_id = route.id
        if request.station_id is not None and not await repository.route_calls_at(
            session, route.id, request.station_id
        ):
            raise Unprocessable(
                f"route_code: route {route.code} does not call at station {request.station_id}"
            )
    alert = Alert(
        station_id=request.station_id,
        route_id=route_id,
        severity=request.severity,
        cause=request.cause,
        effect=request.effect,
        message=request.message,
        active_from=active_from,
        active_until=request.active_until,
        created_at=now,
        updated_at=now,
    )
    alert_id = await repository.insert_alert(session, alert)
    await _invalidate_after_commit(uow, cache, alert)
    audit(
        "alert.created",
        actor,
        f"alert:{alert_id}",
        after_commit=uow,
        station_id=alert.station_id,
        route_id=route_id,
        severity=alert.severity,
        effect=alert.effect,
    )
    return await _answer(session, alert_id, now)


async def update(
    uow: UnitOfWork,
    cache: Cache,
    alert_id: int,
    request: AlertUpdate,
    now: datetime,
    *,
    actor: Actor,
) -> AlertOut:
    changes = request.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("request: send at least one of " + ", ".join(AlertUpdate.model_fields))
    alert = await _lock(uow.session, alert_id)
    if alert.resolved_at is not None:
        raise Conflict(f"alert {alert_id} is resolved; a resolved alert no longer changes")
    if "active_until" in changes:
        _check_period(alert.active_from, changes["active_until"])
    for name, value in changes.items():
        setattr(alert, name, value)
    alert.updated_at = now
    await uow.session.flush()
    await _invalidate_after_commit(uow, cache, alert)
    changed = ",".join(sorted(changes))
    audit("alert.updated", actor, f"alert:{alert_id}", after_commit=uow, fields=changed)
    return await _answer(uow.session, alert_id, now)


async def resolve(
    uow: UnitOfWork, cache: Cache, alert_id: int, now: datetime, *, actor: Actor
) -> AlertOut:
    alert = await _lock(uow.session, alert_id)
    if alert.resolved_at is not None:
        raise Conflict(f"alert {alert_id} was already resolved at {alert.resolved_at.isoformat()}")
    alert.resolved_at = now
    alert.updated_at = now
    await uow.session.flush()
    await _invalidate_after_commit(uow, cache, alert)
    audit("alert.resolved", actor, f"alert:{alert_id}", after_commit=uow)
    return await _answer(uow.session, alert_id, now)
