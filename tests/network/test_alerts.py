"""Alerts: publishing, amending, resolving; a station's view, its cache and its invalidation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import count_rows
from tests.network.conftest import cache_outcomes

pytestmark = pytest.mark.usefixtures("reference_network", "no_alerts_left")

# Route B74 runs Tercer Milenio (01014) ... Portal Norte (02000); the cable does not meet it.
ON_B74 = ("01014", "02000")
OFF_B74 = "13001"


async def station_id(app: FastAPI, code: str) -> int:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(f"SELECT id FROM stations WHERE code = '{code}'")  # noqa: S608
        return int(result.scalar_one())


def alert_body(**fields: Any) -> dict[str, Any]:
    return {
        "severity": "warning",
        "cause": "CONSTRUCTION",
        "effect": "STOP_MOVED",
        "message": "Entrada norte cerrada por obras; use la entrada sur.",
        **fields,
    }


async def publish(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/alerts", json=alert_body(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def station_alerts(
    client: httpx.AsyncClient, station: int, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/stations/{station}/alerts", params=params)
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts


def ids(alerts: list[dict[str, Any]]) -> list[int]:
    return [alert["alert_id"] for alert in alerts]


async def test_create_show_resolve_hide(client: httpx.AsyncClient, app: FastAPI) -> None:
    portal = await station_id(app, "02000")
    assert await station_alerts(client, portal) == []  # cached empty view
    created = await publish(client, station_id=portal)
    assert created["station_id"] == portal
    assert (created["station_code"], created["route_code"]) == ("02000", None)
    assert (created["active"], created["resolved_at"]) == (True, None)
    assert created["active_from"] == created["created_at"] == created["updated_at"]
    assert set(created) == {
        "alert_id", "station_id", "station_code", "route_code", "severity", "cause", "effect",
        "message", "active_from", "active_until", "resolved_at", "created_at", "updated_at",
        "active",
    }  # fmt: skip

    # The write invalidated the cached empty view after its commit.
    assert await station_alerts(client, portal) == [created]
    response = await client.get(f"/api/v1/stations/{portal}/alerts")
    assert response.json()["station_code"] == "02000"
    assert response.json()["active_only"] is True
    assert response.json()["page"] == {"limit": 50, "offset": 0, "returned": 1}

    resolved = await client.post(f"/api/v1/alerts/{created['alert_id']}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["resolved_at"] is not None
    assert resolved.json()["active"] is False
    assert await station_alerts(client, portal, active_only="true") == []
    history = await station_alerts(client, portal, active_only="false")
    assert ids(history) == [created["alert_id"]]
    assert history[0]["active"] is False
    assert history[0]["resolved_at"] == resolved.json()["resolved_at"]

    again = await client.post(f"/api/v1/alerts/{created['alert_id']}/resolve")
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


async def test_second_read_is_a_cache_hit(client: httpx.AsyncClient, app: FastAPI) -> None:
    portal = await station_id(app, "02000")
    await publish(client, station_id=portal)
    hits, misses = cache_outcomes(app, "alerts")
    first = await client.get(f"/api/v1/stations/{portal}/alerts")
    second = await client.get(f"/api/v1/stations/{portal}/alerts")
    assert cache_outcomes(app, "alerts") == (hits + 1, misses + 1)
    assert second.json() == first.json()


async def test_a_route_alert_informs_every_station_of_the_route_and_only_them(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first, last = [await station_id(app, code) for code in ON_B74]
    elsewhere = await station_id(app, OFF_B74)
    for station in (first, last, elsewhere):
        assert await station_alerts(client, station) == []
    hits, misses = cache_outcomes(app, "alerts")
    created = await publish(client, route_code="B74", effect="SIGNIFICANT_DELAYS", cause="WEATHER")
    assert (created["station_id"], created["route_code"]) == (None, "B74")

    # Exactly the views of B74's stations were invalidated: the cable's is still a hit.
    assert await station_alerts(client, elsewhere) == []
    assert cache_outcomes(app, "alerts") == (hits + 1, misses)
    assert ids(await station_alerts(client, first)) == [created["alert_id"]]
    assert ids(await station_alerts(client, last)) == [created["alert_id"]]
    assert cache_outcomes(app, "alerts") == (hits + 1, misses + 2)

    await client.post(f"/api/v1/alerts/{created['alert_id']}/resolve")
    assert await station_alerts(client, first) == []
    assert await station_alerts(client, last) == []


async def test_a_route_alert_at_one_station_informs_only_that_station(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first, last = [await station_id(app, code) for code in ON_B74]
    created = await publish(client, route_code="B74", station_id=last, effect="DETOUR")
    assert (created["station_code"], created["route_code"]) == ("02000", "B74")
    assert ids(await station_alerts(client, last)) == [created["alert_id"]]
    assert await station_alerts(client, first) == []


async def test_alerts_start_and_end_on_time_without_a_write(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    portal = await station_id(app, "02000")
    # The checks before `soon` (three requests) must be done by then: 5 s holds on a loaded
    # machine, and the test waits it out only once. (The routes read the real clock.)
    soon = datetime.now(UTC) + timedelta(seconds=5)
    later = await publish(client, station_id=portal, active_from=soon.isoformat())
    ending = await publish(client, station_id=portal, active_until=soon.isoformat())
    assert later["active"] is False
    assert ids(await station_alerts(client, portal)) == [ending["alert_id"]]
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    hits, _ = cache_outcomes(app, "alerts")
    # The same cached entry, judged at the new time (well within the 60 s TTL).
    assert ids(await station_alerts(client, portal)) == [later["alert_id"]]
    assert cache_outcomes(app, "alerts")[0] == hits + 1
    history = await station_alerts(client, portal, active_only="false")
    assert ids(history) == [later["alert_id"], ending["alert_id"]]  # newest active_from first
    assert [alert["active"] for alert in history] == [True, False]


async def test_alert_views_page(client: httpx.AsyncClient, app: FastAPI) -> None:
    portal = await station_id(app, "02000")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    created = [
        await publish(
            client, station_id=portal, active_from=(start + timedelta(days=d)).isoformat()
        )
        for d in range(3)
    ]
    newest_first = [alert["alert_id"] for alert in reversed(created)]
    page = await station_alerts(client, portal, active_only="false", limit=2, offset=1)
    assert ids(page) == newest_first[1:3]
    assert await station_alerts(client, portal, limit=2) == []  # none has started yet


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient, app: FastAPI) -> None:
    portal = await station_id(app, "02000")
    created = await publish(client, station_id=portal)
    assert await station_alerts(client, portal) == [created]
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = await client.patch(
        f"/api/v1/alerts/{created['alert_id']}",
        json={"message": "  Estación cerrada  ", "severity": "severe", "active_until": until},
    )
    assert response.status_code == 200
    patched = response.json()
    assert (patched["message"], patched["severity"]) == ("Estación cerrada", "severe")
    assert datetime.fromisoformat(patched["active_until"]) == datetime.fromisoformat(until)
    assert (patched["cause"], patched["effect"]) == (created["cause"], created["effect"])
    assert patched["updated_at"] > created["updated_at"]
    assert patched["created_at"] == created["created_at"]
    assert await station_alerts(client, portal) == [patched]  # invalidated after the commit

    cleared = await client.patch(
        f"/api/v1/alerts/{created['alert_id']}", json={"active_until": None}
    )
    assert cleared.json()["active_until"] is None
    assert cleared.json()["message"] == "Estación cerrada"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "request"),
        ({"message": None}, 422, "message"),
        ({"message": ""}, 422, "message"),
        ({"message": "a\u0000b"}, 422, "message"),
        ({"severity": "critical"}, 422, "severity"),
        ({"cause": "ALIENS"}, 422, "cause"),
        ({"effect": None}, 422, "effect"),
        ({"station_id": 5}, 422, "station_id"),
        ({"active_until": "2000-01-01T00:00:00Z"}, 422, "active_until"),
        ({"active_until": "2030-01-01T00:00:00"}, 422, "active_until"),
    ],
)
async def test_bad_patches_change_nothing(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any], status: int, field: str
) -> None:
    created = await publish(client, station_id=await station_id(app, "02000"))
    response = await client.patch(f"/api/v1/alerts/{created['alert_id']}", json=body)
    assert response.status_code == status
    assert response.json()["detail"].startswith(f"{field}: ")
    row = await client.get(f"/api/v1/stations/{created['station_id']}/alerts")
    assert row.json()["alerts"] == [created]


async def test_patch_and_resolve_of_unknown_or_resolved_alerts(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await publish(client, station_id=await station_id(app, "02000"))
    await client.post(f"/api/v1/alerts/{created['alert_id']}/resolve")
    resolved_patch = await client.patch(
        f"/api/v1/alerts/{created['alert_id']}", json={"message": "x"}
    )
    assert resolved_patch.status_code == 409
    assert "resolved" in resolved_patch.json()["detail"]
    for response in (
        await client.patch("/api/v1/alerts/999999", json={"message": "x"}),
        await client.post("/api/v1/alerts/999999/resolve"),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "alert 999999 does not exist"}
    for path in (f"/api/v1/alerts/{2**31}/resolve", "/api/v1/alerts/0/resolve"):
        response = await client.post(path)
        assert response.status_code == 422
        assert response.json()["detail"].startswith("alert_id: ")
    oversized = await client.patch(f"/api/v1/alerts/{2**63}", json={"message": "x"})
    assert oversized.status_code == 422


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({}, 422, "station_id"),
        ({"station_id": 999_999}, 404, None),
        ({"route_code": "NOPE"}, 404, None),
        ({"station_id": "STATION:02000", "route_code": "B74"}, 422, "route_code"),
        ({"route_code": "B74", "severity": "critical"}, 422, "severity"),
        ({"route_code": "B74", "cause": "construction"}, 422, "cause"),
        ({"route_code": "B74", "effect": "CLOSED"}, 422, "effect"),
        ({"route_code": "B74", "message": "   "}, 422, "message"),
        ({"route_code": "B74", "message": "x" * 1001}, 422, "message"),
        ({"route_code": "B74", "message": "nul\u0000"}, 422, "message"),
        ({"route_code": "B74", "active_from": "2026-01-02T00:00:00Z",
          "active_until": "2026-01-01T00:00:00Z"}, 422, "active_until"),
        ({"route_code": "B74", "active_from": "2026-01-02T00:00:00"}, 422, "active_from"),
        ({"route_code": "B74", "active_from": "0001-01-01T00:00:00+01:00"}, 422, "active_from"),
        ({"station_id": 2**31}, 422, "station_id"),
        ({"station_id": "7"}, 422, "station_id"),
        ({"station_id": 7.0}, 422, "station_id"),
        ({"route_code": "B74", "resolved_at": "2026-01-01T00:00:00Z"}, 422, "resolved_at"),
        ({"route_code": "B 74"}, 422, "route_code"),
    ],
)  # fmt: skip
async def test_bad_alerts_are_refused_and_write_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    fields: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    if fields.get("station_id") == "STATION:02000":
        fields["station_id"] = await station_id(app, OFF_B74)  # B74 does not call there
    response = await client.post("/api/v1/alerts", json=alert_body(**fields))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    if field is None:
        assert response.json()["error"] == "not_found"
        assert "does not exist" in detail
    else:
        assert detail.startswith(f"{field}: ")
    assert await count_rows(app, "alerts") == 0


async def test_missing_fields_and_bad_station_views(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/alerts", json={"route_code": "B74"})
    assert missing.status_code == 422
    assert {f["field"] for f in missing.json()["fields"]} == {
        "severity",
        "cause",
        "effect",
        "message",
    }
    unknown = await client.get("/api/v1/stations/999999/alerts")
    assert unknown.json() == {"error": "not_found", "detail": "station 999999 does not exist"}
    for path, field in (
        (f"/api/v1/stations/{2**31}/alerts", "station_id"),
        ("/api/v1/stations/1/alerts?active_only=maybe", "active_only"),
        ("/api/v1/stations/1/alerts?limit=0", "limit"),
    ):
        response = await client.get(path)
        assert response.status_code == 422
        assert response.json()["detail"].startswith(f"{field}: ")
