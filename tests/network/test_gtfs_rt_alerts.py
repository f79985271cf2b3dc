"""The GTFS-Realtime alerts feed, read back with the bindings and compared with the API's alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.transit import gtfs_realtime_pb2 as rt

from tests.network.conftest import cache_outcomes
from tests.network.feeds import json_feed, posix, protobuf_feed
from tests.network.test_alerts import OFF_B74, ON_B74, publish, station_id

pytestmark = pytest.mark.usefixtures("reference_network", "no_alerts_left")


def entities(message: rt.FeedMessage) -> dict[int, rt.Alert]:
    """The feed's alerts by our alert id (entity ids are 'alert-<id>')."""
    found = {}
    for entity in message.entity:
        assert entity.id.startswith("alert-")
        assert entity.HasField("alert")
        assert not entity.HasField("trip_update")
        found[int(entity.id.removeprefix("alert-"))] = entity.alert
    return found


def selectors(alert: rt.Alert) -> list[tuple[str | None, str | None]]:
    """(route_id, stop_id) of each informed entity, None where the selector has no such id."""
    return [
        (
            informed.route_id if informed.HasField("route_id") else None,
            informed.stop_id if informed.HasField("stop_id") else None,
        )
        for informed in alert.informed_entity
    ]


def periods(alert: rt.Alert) -> list[tuple[int, int | None]]:
    return [
        (period.start, period.end if period.HasField("end") else None)
        for period in alert.active_period
    ]


def assert_same_alert(feed_alert: rt.Alert, api: dict[str, Any]) -> None:
    """The feed says what the API says about the alert."""
    assert rt.Alert.Cause.Name(feed_alert.cause) == api["cause"]
    assert rt.Alert.Effect.Name(feed_alert.effect) == api["effect"]
    assert rt.Alert.SeverityLevel.Name(feed_alert.severity_level) == api["severity"].upper()
    assert [t.text for t in feed_alert.header_text.translation] == [api["message"]]
    until = api["active_until"]
    assert periods(feed_alert) == [(posix(api["active_from"]), until and posix(until))]
    assert selectors(feed_alert) == [(api["route_code"], api["station_code"])]


async def test_alerts_in_the_feed_are_the_ones_in_force_or_coming(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    on_route, portal = [await station_id(app, code) for code in ON_B74]
    elsewhere = await station_id(app, OFF_B74)
    now = datetime.now(UTC)
    # A route at one station, with an end: one informed entity carrying both ids.
    route_at_station = await publish(
        client,
        station_id=portal,
        route_code="B74",
        cause="TECHNICAL_PROBLEM",
        effect="SIGNIFICANT_DELAYS",
        severity="severe",
        active_until=(now + timedelta(hours=2)).isoformat(),
    )
    station_only = await publish(client, station_id=elsewhere)
    route_only = await publish(client, route_code="B74", cause="STRIKE", effect="REDUCED_SERVICE")
    coming = await publish(
        client,
        station_id=on_route,
        severity="info",
        cause="HOLIDAY",
        effect="MODIFIED_SERVICE",
        active_from=(now + timedelta(days=1)).isoformat(),
        active_until=(now + timedelta(days=2)).isoformat(),
    )
    expired = await publish(
        client,
        station_id=elsewhere,
        active_from=(now - timedelta(hours=2)).isoformat(),
        active_until=(now - timedelta(hours=1)).isoformat(),
    )
    resolved = await publish(client, station_id=elsewhere, cause="ACCIDENT")
    response = await client.post(f"/api/v1/alerts/{resolved['alert_id']}/resolve")
    assert response.status_code == 200

    before = int(datetime.now(UTC).timestamp())
    message = await protobuf_feed(client, "alerts")
    assert before <= message.header.timestamp <= datetime.now(UTC).timestamp()
    found = entities(message)
    # Newest active_from first; the expired and the resolved alerts are absent.
    in_feed = [coming, route_only, station_only, route_at_station]
    assert list(found) == [alert["alert_id"] for alert in in_feed]
    assert expired["alert_id"] not in found
    assert resolved["alert_id"] not in found
    for alert in in_feed:
        assert_same_alert(found[alert["alert_id"]], alert)
    assert selectors(found[route_at_station["alert_id"]]) == [("B74", "02000")]
    assert periods(found[route_at_station["alert_id"]]) == [
        (posix(route_at_station["active_from"]), posix(route_at_station["active_until"]))
    ]
    assert selectors(found[station_only["alert_id"]]) == [(None, OFF_B74)]
    assert selectors(found[route_only["alert_id"]]) == [("B74", None)]

    # The JSON view says the same, with ISO times and whether each alert is in force yet.
    body = await json_feed(client, "alerts")
    assert [entity["alert_id"] for entity in body["entity"]] == list(found)
    by_id = {entity["alert_id"]: entity for entity in body["entity"]}
    first = by_id[route_at_station["alert_id"]]
    assert first == {
        "id": f"alert-{route_at_station['alert_id']}",
        "alert_id": route_at_station["alert_id"],
        "active": True,
        "cause": "TECHNICAL_PROBLEM",
        "effect": "SIGNIFICANT_DELAYS",
        "severity_level": "SEVERE",
        "header_text": route_at_station["message"],
        "active_period": [
            {"start": route_at_station["active_from"], "end": route_at_station["active_until"]}
        ],
        "informed_entity": [{"route_id": "B74", "stop_id": "02000"}],
    }
    assert by_id[coming["alert_id"]]["active"] is False
    assert by_id[station_only["alert_id"]]["active_period"][0]["end"] is None


async def test_alert_writes_show_in_the_cached_feed_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert entities(await protobuf_feed(client, "alerts")) == {}
    hits, _ = cache_outcomes(app, "alerts")
    assert entities(await protobuf_feed(client, "alerts")) == {}
    assert cache_outcomes(app, "alerts")[0] == hits + 1  # served from the cached view

    created = await publish(client, route_code="B74")
    found = entities(await protobuf_feed(client, "alerts"))
    assert list(found) == [created["alert_id"]]

    changed = await client.patch(
        f"/api/v1/alerts/{created['alert_id']}", json={"effect": "DETOUR", "message": "Desvío"}
    )
    assert changed.status_code == 200
    assert_same_alert(
        entities(await protobuf_feed(client, "alerts"))[created["alert_id"]], changed.json()
    )

    await client.post(f"/api/v1/alerts/{created['alert_id']}/resolve")
    assert entities(await protobuf_feed(client, "alerts")) == {}


async def test_an_alert_leaves_the_feed_when_its_period_ends(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    portal = await station_id(app, "02000")
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    ending = await publish(client, station_id=portal, active_until=soon.isoformat())
    assert list(entities(await protobuf_feed(client, "alerts"))) == [ending["alert_id"]]
    # The view cached above still holds it; the feed drops it once its period is over.
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while datetime.now(UTC) < soon:
        assert datetime.now(UTC) < deadline
        await asyncio.sleep(0.1)
    assert entities(await protobuf_feed(client, "alerts")) == {}


@pytest.mark.parametrize("params", [{"format": "xml"}, {"format": ""}, {"format": "JSON"}])
async def test_an_unknown_format_is_refused(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/gtfs-rt/alerts", params=params)
    assert response.status_code == 422
    assert "format" in response.text
