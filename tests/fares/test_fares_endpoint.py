"""GET /api/v1/fares: the policy in force and the history, as stored by the migrations."""

from __future__ import annotations

import httpx


async def test_fares_in_force_and_history(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/fares")
    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "COP"
    assert [p["effective_from"][:10] for p in body["history"]] == [
        "2023-02-01",
        "2024-02-12",
        "2025-01-18",
        "2025-02-01",
        "2026-01-14",
    ]
    in_force = body["in_force"]
    assert in_force["effective_from"] == "2026-01-14T00:00:00-05:00"
    assert in_force["base_fares"] == {"trunk": 3550, "cable": 3550, "zonal": 3550, "feeder": 0}
    assert in_force["transfer_window_seconds"] == 125 * 60
    assert in_force["max_transfers"] == 2
    assert in_force["credit_trips"] == 2
    assert body["history"][0]["base_fares"]["zonal"] == 2750
    # Served from the cache the second time, byte for byte the same.
    assert (await client.get("/api/v1/fares")).content == response.content
