"""Route and recharge point views on the whole reference network."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.network.conftest import cache_outcomes

pytestmark = pytest.mark.usefixtures("reference_network")


async def rows(app: FastAPI, sql: str) -> list[tuple[object, ...]]:
    async with app.state.database.primary.connect() as connection:
        return [tuple(row) for row in (await connection.exec_driver_sql(sql)).all()]


async def test_route_codes_are_every_code_sorted(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/api/v1/routes/codes")
    assert response.status_code == 200
    codes = response.json()["route_codes"]
    assert len(codes) == 632
    assert codes == sorted(codes)
    assert codes[:3] == ["1", "1-1", "1-2"]
    assert {"B74", "TC1", "J72"} <= set(codes)
    assert sorted(codes) == sorted(
        str(code) for (code,) in await rows(app, "SELECT code FROM routes")
    )


async def test_route_details_of_the_cable(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/api/v1/routes/TC1/details")
    assert response.status_code == 200
    details = response.json()
    ((route_id,),) = await rows(app, "SELECT id FROM routes WHERE code = 'TC1'")
    station_ids = dict(
        await rows(app, "SELECT code, id FROM stations WHERE code BETWEEN '13000' AND '13003'")
    )
    assert details == {
        "route_id": route_id,
        "code": "TC1",
        "name": "TransMiCable: Portal Tunal - Mirador del Paraíso",
        "kind": "cable",
        "active": True,
        "headways": [
            {"band": "early", "start": "04:00:00", "end": "06:00:00", "headway_minutes": 1},
            {"band": "peak_am", "start": "06:00:00", "end": "09:00:00", "headway_minutes": 1},
            {"band": "midday", "start": "09:00:00", "end": "16:00:00", "headway_minutes": 1},
            {"band": "peak_pm", "start": "16:00:00", "end": "20:00:00", "headway_minutes": 1},
            {"band": "evening", "start": "20:00:00", "end": "23:00:00", "headway_minutes": 1},
        ],
        "stops": [
            {
                "sequence": sequence,
                "station_id": station_ids[code],
                "station_code": code,
                "name": name,
                "minutes_from_start": minutes,
            }
            for sequence, code, name, minutes in [
                (1, "13000", "Portal Tunal - TransMiCable", 0),
                (2, "13001", "Juan Pablo II", 4),
                (3, "13002", "Manitas", 9),
                (4, "13003", "Mirador del Paraíso", 14),
            ]
        ],
    }


async def test_route_details_list_only_the_bands_a_route_runs(client: httpx.AsyncClient) -> None:
    details = (await client.get("/api/v1/routes/B23/details")).json()
    assert [(h["band"], h["headway_minutes"]) for h in details["headways"]] == [
        ("peak_am", 5),
        ("peak_pm", 6),
    ]
    stops = details["stops"]
    assert [s["sequence"] for s in stops] == list(range(1, len(stops) + 1))
    minutes = [s["minutes_from_start"] for s in stops]
    assert minutes[0] == 0
    assert minutes == sorted(minutes)
    assert (stops[0]["name"], stops[-1]["name"]) == ("Portal Usme", "Portal Norte")


async def test_a_feeder_loop_starts_and_ends_at_its_portal(client: httpx.AsyncClient) -> None:
    stops = (await client.get("/api/v1/routes/1-1/details")).json()["stops"]
    assert stops[0]["station_code"] == stops[-1]["station_code"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("NOPE9", 404), ("b74", 404), ("B 74", 422), ("B74;", 422), ("A" * 21, 422)],
)
async def test_route_details_errors(client: httpx.AsyncClient, code: str, status: int) -> None:
    response = await client.get(f"/api/v1/routes/{code}/details")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"error": "not_found", "detail": f"route {code} does not exist"}
    else:
        assert response.json()["detail"].startswith("route_code: ")


async def test_route_views_are_cached_and_revalidate(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await app.state.cache.invalidate("routes")
    hits, misses = cache_outcomes(app, "routes")
    first = await client.get("/api/v1/routes/B74/details")
    again = await client.get("/api/v1/routes/B74/details")
    assert cache_outcomes(app, "routes") == (hits + 1, misses + 1)
    assert again.content == first.content
    assert first.headers["cache-control"] == "public, max-age=300"
    for path in ("/api/v1/routes/B74/details", "/api/v1/routes/codes"):
        tag = (await client.get(path)).headers["etag"]
        revalidated = await client.get(path, headers={"If-None-Match": tag})
        assert (revalidated.status_code, revalidated.content) == (304, b"")


async def test_recharge_points_with_filters(client: httpx.AsyncClient, app: FastAPI) -> None:
    everything = (await client.get("/api/v1/recharge-points", params={"limit": 500})).json()
    assert everything["total"] == 146 + 188 + 1
    ids = [p["recharge_point_id"] for p in everything["recharge_points"]]
    assert ids == sorted(ids)
    assert everything["recharge_points"][0] == {
        "recharge_point_id": 1,
        "name": "Taquilla Calle 76",
        "channel": "counter",
        "locality_code": "12",
        "locality_name": "Barrios Unidos",
    }
    web = (await client.get("/api/v1/recharge-points", params={"channel": "web"})).json()
    assert web["total"] == 1
    assert web["recharge_points"][0]["locality_code"] is None
    assert web["recharge_points"][0]["locality_name"] is None

    suba_kiosks = await rows(
        app,
        "SELECT count(*) FROM recharge_points WHERE locality_code = '11' AND channel = 'kiosk'",
    )
    response = await client.get(
        "/api/v1/recharge-points", params={"locality": "11", "channel": "kiosk", "limit": 5}
    )
    body = response.json()
    assert body["total"] == suba_kiosks[0][0] == 29
    assert body["page"] == {"limit": 5, "offset": 0, "returned": 5}
    assert {(p["channel"], p["locality_name"]) for p in body["recharge_points"]} == {
        ("kiosk", "Suba")
    }
    past_the_end = (
        await client.get("/api/v1/recharge-points", params={"channel": "web", "offset": 3})
    ).json()
    assert (past_the_end["total"], past_the_end["recharge_points"]) == (1, [])


async def test_inactive_recharge_points_are_not_listed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql("UPDATE recharge_points SET active = false WHERE id = 1")
    try:
        await app.state.cache.invalidate("recharge_points")
        body = (await client.get("/api/v1/recharge-points", params={"limit": 1})).json()
        assert body["total"] == 146 + 188
        assert body["recharge_points"][0]["recharge_point_id"] == 2
    finally:
        async with app.state.database.primary.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE recharge_points SET active = true WHERE id = 1"
            )
        await app.state.cache.invalidate("recharge_points")


async def test_recharge_points_are_cached_with_an_etag(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    hits, misses = cache_outcomes(app, "recharge_points")
    first = await client.get("/api/v1/recharge-points", params={"channel": "counter", "limit": 10})
    second = await client.get(
        "/api/v1/recharge-points",
        params={"channel": "counter", "limit": 10},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert cache_outcomes(app, "recharge_points") == (hits + 1, misses + 1)
    assert second.status_code == 304
    # A page size the cache does not keep (pagination.CACHED_PAGE_SIZES) still gets an ETag,
    # computed each time from PostgreSQL.
    odd = await client.get("/api/v1/recharge-points", params={"channel": "counter", "limit": 7})
    again = await client.get(
        "/api/v1/recharge-points",
        params={"channel": "counter", "limit": 7},
        headers={"If-None-Match": odd.headers["etag"]},
    )
    assert cache_outcomes(app, "recharge_points") == (hits + 1, misses + 1)
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "atm"}, "channel"),
        ({"locality": "Suba"}, "locality"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_bad_recharge_point_filters_are_422(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get("/api/v1/recharge-points", params=params)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: ")
