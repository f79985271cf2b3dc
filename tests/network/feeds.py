"""Fetching the GTFS-Realtime feeds and reading them back with the bindings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from google.transit import gtfs_realtime_pb2 as rt


async def protobuf_feed(client: httpx.AsyncClient, path: str, **params: Any) -> rt.FeedMessage:
    response = await client.get(f"/api/v1/gtfs-rt/{path}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    message = rt.FeedMessage()
    message.ParseFromString(response.content)
    assert message.header.gtfs_realtime_version == "2.0"
    assert message.header.incrementality == rt.FeedHeader.FULL_DATASET
    return message


async def json_feed(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/api/v1/gtfs-rt/{path}", params={**params, "format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["header"]["gtfs_realtime_version"] == "2.0"
    assert body["header"]["incrementality"] == "FULL_DATASET"
    return body


def posix(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())
