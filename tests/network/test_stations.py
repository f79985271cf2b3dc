"""Station views on the whole reference network: list, identifiers, details; cache, ETag, gzip."""

from __future__ import annotations

import gzip
import random
import re

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.conftest import ServerUrls, client_for
from tests.network.conftest import cache_outcomes, drop_cached_views
from travel_recharge.kit.cache.epoch import PLACEHOLDER
from travel_recharge.kit.pagination import CACHED_PAGE_SIZES, CACHED_PAGES, Page
from travel_recharge.network.service import STATION_LIST_GROUP

pytestmark = pytest.mark.usefixtures("reference_network")

ALL_STATIONS = 146 + 7500


async def scalar(app: FastAPI, sql: str) -> object:
    async with app.state.database.primary.connect() as connection:
        return (await connection.exec_driver_sql(sql)).scalar_one()


async def test_station_list_first_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/stations")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == ALL_STATIONS
    assert body["page"] == {"limit": 50, "offset": 0, "returned": 50}
    codes = [s["code"] for s in body["stations"]]
    assert codes == sorted(codes)
    assert codes[0] == "01001"
    first = body["stations"][0]
    assert set(first) == {
        "station_id",
        "code",
        "name",
        "kind",
        "corridor",
        "locality_code",
        "locality_name",
        "latitude",
        "longitude",
        "active",
    }
    assert first["corridor"] == "A"
    assert first["active"] is True


async def test_station_list_filters_and_pages(client: httpx.AsyncClient, app: FastAPI) -> None:
    suba_trunk = await scalar(
        app, "SELECT count(*) FROM stations WHERE locality_code = '11' AND kind = 'trunk'"
    )
    response = await client.get(
        "/api/v1/stations", params={"locality": "11", "kind": "trunk", "limit": 4, "offset": 2}
    )
    body = response.json()
    assert body["total"] == suba_trunk == 10
    assert body["page"] == {"limit": 4, "offset": 2, "returned": 4}
    assert [s["code"] for s in body["stations"]] == ["03003", "03004", "03005", "03006"]
    assert {(s["kind"], s["locality_code"], s["locality_name"]) for s in body["stations"]} == {
        ("trunk", "11", "Suba")
    }

    portals = (await client.get("/api/v1/stations", params={"kind": "portal"})).json()
    assert portals["total"] == 9
    assert "Portal Norte" in {s["name"] for s in portals["stations"]}
    cable = (await client.get("/api/v1/stations", params={"kind": "cable"})).json()
    assert cable["total"] == 4
    closed = (await client.get("/api/v1/stations", params={"active": "false"})).json()
    assert (closed["total"], closed["stations"]) == (0, [])
    open_ = (await client.get("/api/v1/stations", params={"active": "true", "limit": 1})).json()
    assert open_["total"] == ALL_STATIONS


async def test_a_page_past_the_end_still_reports_the_total(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/stations", params={"kind": "cable", "offset": 10})).json()
    assert body == {"stations": [], "total": 4, "page": {"limit": 50, "offset": 10, "returned": 0}}
    unknown_locality = (await client.get("/api/v1/stations", params={"locality": "99"})).json()
    assert (unknown_locality["total"], unknown_locality["stations"]) == (0, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "metro"}, "kind"),
        ({"locality": "1"}, "locality"),
        ({"locality": "011"}, "locality"),
        ({"active": "maybe"}, "active"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"offset": 2**63}, "offset"),
    ],
)
async def test_bad_station_filters_are_422(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    response = await client.get("/api/v1/stations", params=params)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: ")


async def test_station_identifiers_list_every_station(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.get("/api/v1/stations/identifiers")
    assert response.status_code == 200
    stations = response.json()["stations"]
    assert len(stations) == ALL_STATIONS
    assert stations[0] == {"code": "01001", "name": "Calle 76"}
    assert {"code": "02000", "name": "Portal Norte"} in stations
    assert [s["code"] for s in stations] == sorted(s["code"] for s in stations)
    assert await scalar(app, "SELECT count(DISTINCT code) FROM stations") == len(stations)


async def test_station_details_with_routes_serving(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/api/v1/stations/02000/details")
    assert response.status_code == 200
    details = response.json()
    expected_id = await scalar(app, "SELECT id FROM stations WHERE code = '02000'")
    assert details["station_id"] == expected_id
    assert (details["name"], details["kind"], details["corridor"]) == (
        "Portal Norte",
        "portal",
        "B",
    )
    assert (details["locality_code"], details["locality_name"]) == ("01", "Usaquén")
    serving = details["routes_serving"]
    codes = [r["route_code"] for r in serving]
    assert codes == sorted(codes)
    expected = await scalar(
        app,
        "SELECT string_agg(DISTINCT r.code, ',') FROM route_stops rs"
        " JOIN routes r ON r.id = rs.route_id JOIN stations s ON s.id = rs.station_id"
        " WHERE s.code = '02000'",
    )
    assert set(codes) == set(str(expected).split(","))
    assert {
        "route_code": "B74",
        "name": "Tercer Milenio - Portal Norte",
        "kind": "trunk",
    } in serving
    assert {r["kind"] for r in serving} == {"trunk", "feeder"}  # feeders loop from the portal


async def test_a_stop_no_route_serves_has_an_empty_list(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    code = await scalar(
        app,
        "SELECT min(code) FROM stations s WHERE NOT EXISTS"
        " (SELECT 1 FROM route_stops rs WHERE rs.station_id = s.id)",
    )
    details = (await client.get(f"/api/v1/stations/{code}/details")).json()
    assert (details["code"], details["kind"], details["routes_serving"]) == (code, "zonal", [])


@pytest.mark.parametrize(
    ("code", "status"),
    [("99999", 404), ("1234", 422), ("123456", 422), ("0200A", 422), ("%2002000", 422)],
)
async def test_station_details_errors(client: httpx.AsyncClient, code: str, status: int) -> None:
    response = await client.get(f"/api/v1/stations/{code}/details")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"error": "not_found", "detail": "station 99999 does not exist"}
    else:
        assert response.json()["detail"].startswith("station_code: ")


async def test_second_read_is_a_cache_hit(client: httpx.AsyncClient, app: FastAPI) -> None:
    await app.state.cache.invalidate("stations:list", "stations:reference")
    hits, misses = cache_outcomes(app, "stations")
    first = await client.get("/api/v1/stations", params={"kind": "portal", "limit": 10})
    assert cache_outcomes(app, "stations") == (hits, misses + 1)
    second = await client.get("/api/v1/stations", params={"kind": "portal", "limit": 10})
    assert cache_outcomes(app, "stations") == (hits + 1, misses + 1)
    assert second.content == first.content
    # Another filter is another entry; the details of a station are cached too.
    await client.get("/api/v1/stations", params={"kind": "cable", "limit": 10})
    await client.get("/api/v1/stations/02000/details")
    await client.get("/api/v1/stations/02000/details")
    assert cache_outcomes(app, "stations") == (hits + 2, misses + 3)


async def test_unknown_station_is_not_cached(client: httpx.AsyncClient, app: FastAPI) -> None:
    hits, misses = cache_outcomes(app, "stations")
    for _ in range(2):
        assert (await client.get("/api/v1/stations/99998/details")).status_code == 404
    assert cache_outcomes(app, "stations") == (hits, misses + 2)


async def test_etag_then_304_with_if_none_match(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/stations/identifiers")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"] == "public, max-age=300"
    again = await client.get("/api/v1/stations/identifiers", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # Weak form and lists match too (RFC 9110 weak comparison); another tag does not.
    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        conditional = await client.get(
            "/api/v1/stations/identifiers", headers={"If-None-Match": header}
        )
        assert conditional.status_code == 304
    stale = await client.get("/api/v1/stations/identifiers", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200
    assert stale.content == first.content
    # Another view has another tag; the list carries the list TTL.
    listed = await client.get("/api/v1/stations")
    assert listed.headers["etag"] != etag
    assert listed.headers["cache-control"] == "public, max-age=60"


async def test_big_answers_are_gzipped_when_asked(client: httpx.AsyncClient) -> None:
    plain = await client.get(
        "/api/v1/stations/identifiers", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) > 300_000
    zipped = await client.get("/api/v1/stations/identifiers", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    # httpx decodes the body; the bytes on the wire are a fraction of it.
    assert int(zipped.headers["content-length"]) < len(plain.content) / 4
    assert zipped.content == plain.content
    assert zipped.headers["etag"] == plain.headers["etag"]
    # Under 1 kB compression is not worth it.
    small = await client.get(
        "/api/v1/stations", params={"limit": 1}, headers={"Accept-Encoding": "gzip"}
    )
    assert len(small.content) < 1000
    assert "content-encoding" not in small.headers


async def test_gzip_body_decompresses_to_the_json(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "GET", "/api/v1/stations", params={"limit": 500}, headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).startswith(b'{"stations":[{"station_id":')


async def test_anonymous_limit_offset_pairs_cannot_multiply_cache_keys(
    app: FastAPI, test_servers: ServerUrls
) -> None:
    """Every limit/offset pair used to be a cache key of its own: an anonymous caller could
    make millions. Only the pages the cache keeps (pagination.CACHED_PAGE_SIZES) get one;
    the others are answered from PostgreSQL, as correct as before."""
    await drop_cached_views(test_servers)
    rng = random.Random(18)
    odd = [(rng.randint(1, 500), rng.randint(0, 10_000_000)) for _ in range(60)]
    odd += [(7, 3), (50, 25), (50, 50 * CACHED_PAGES), (499, 0)]
    kept = [(50, 0), (500, 1000), (20, 40), (10, 190)]
    async with client_for(app) as anonymous:
        for limit, offset in odd + kept:
            response = await anonymous.get(
                "/api/v1/stations", params={"limit": limit, "offset": offset}
            )
            assert response.status_code == 200
            assert response.json()["page"]["offset"] == offset
        first = (await anonymous.get("/api/v1/stations", params={"limit": 50})).json()
        inside = (await anonymous.get("/api/v1/stations", params={"limit": 7, "offset": 3})).json()
    assert [s["code"] for s in inside["stations"]] == [s["code"] for s in first["stations"]][3:10]
    # As Redis stores it: under the epoch the app's connections found (see cache.epoch).
    cache = app.state.cache
    prefix = cache.key(f"{STATION_LIST_GROUP}:f:").replace(PLACEHOLDER, cache.fence.current)
    redis = Redis.from_url(test_servers.redis_url)
    try:
        fields = {
            key.decode().removeprefix(prefix)
            async for key in redis.scan_iter(match=f"{prefix}*", count=500)
        }
    finally:
        await redis.aclose()
    expected = {f"*:*:*:{limit}:{offset}" for limit, offset in kept}
    expected |= {f"*:*:*:{l}:{o}" for l, o in odd if Page(l, o).cacheable}  # noqa: E741
    assert fields == expected
    assert len(fields) <= len(CACHED_PAGE_SIZES) * CACHED_PAGES


def test_the_pages_the_cache_keeps() -> None:
    assert Page(50, 0).cacheable
    assert Page(500, 500 * (CACHED_PAGES - 1)).cacheable
    assert not Page(500, 500 * CACHED_PAGES).cacheable  # deeper pages are computed
    assert not Page(50, 25).cacheable  # not aligned to the page size
    assert not Page(7, 0).cacheable  # not a page size clients use
