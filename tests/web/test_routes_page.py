"""/routes in Chromium: the network map, a route's ordered stops, a station's routes,
arrivals and alerts — each checked against what the API says."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.web.conftest import WebService


def _busiest_trunk_route(web_service: WebService) -> dict:
    with web_service.api() as api:
        codes = api.get("/api/v1/routes/codes").json()["route_codes"]
        details = [api.get(f"/api/v1/routes/{code}/details").json() for code in codes[:40]]
    trunk = [d for d in details if d["kind"] == "trunk" and d["stops"]]
    return max(trunk, key=lambda d: len(d["stops"]))


def test_the_map_draws_every_station_from_its_coordinates(
    page: Page, web_service: WebService
) -> None:
    with web_service.api() as api:
        total = api.get("/api/v1/stations", params={"limit": 1}).json()["total"]
    page.goto("/routes")
    expect(page.locator("#station-count")).to_have_text(str(total), timeout=30_000)
    assert page.locator("#network circle.station").count() == total
    # Portals are drawn apart from trunk stations, zonal stops smallest.
    portal_radius = page.locator("#network circle.portal").first.get_attribute("r")
    zonal_radius = page.locator("#network circle.zonal").first.get_attribute("r")
    assert float(portal_radius or 0) > float(zonal_radius or 0)
    # Hiding the zonal stops hides their layer only.
    page.uncheck("#show-zonal")
    expect(page.locator("#network .zonal-layer")).to_be_hidden()
    expect(page.locator("#network circle.portal").first).to_be_visible()


def test_picking_a_route_highlights_its_stops_in_running_order(
    page: Page, web_service: WebService
) -> None:
    route = _busiest_trunk_route(web_service)
    page.goto("/routes")
    expect(page.locator("#route-select option")).not_to_have_count(1, timeout=30_000)
    page.select_option("#route-select", route["code"])
    expect(page.locator("#route-title")).to_have_text(f"{route['code']} · {route['name']}")
    stops = page.locator("#route-stops li a")
    expect(stops).to_have_count(len(route["stops"]))
    assert stops.all_text_contents() == [stop["name"] for stop in route["stops"]]
    highlighted = {
        int(value or 0)
        for value in page.locator("#network circle.on-route").evaluate_all(
            "dots => dots.map(d => d.dataset.stationId)"
        )
    }
    assert highlighted == {stop["station_id"] for stop in route["stops"]}
    points = page.locator("#network polyline.route-line").get_attribute("points") or ""
    assert len(points.split()) == len(route["stops"])


def test_picking_a_station_shows_its_routes_arrivals_and_active_alerts(
    page: Page, web_service: WebService
) -> None:
    route = _busiest_trunk_route(web_service)
    station = route["stops"][len(route["stops"]) // 2]
    with web_service.api("operator") as operator:
        created = operator.post(
            "/api/v1/alerts",
            json={
                "station_id": station["station_id"],
                "severity": "warning",
                "cause": "MAINTENANCE",
                "effect": "REDUCED_SERVICE",
                "message": "Ascensor fuera de servicio <b>no es HTML</b>",
            },
        )
        assert created.status_code == 201, created.text
    with web_service.api() as api:
        details = api.get(f"/api/v1/stations/{station['station_code']}/details").json()
        arrivals = api.get(
            f"/api/v1/stations/{station['station_id']}/arrivals", params={"per_route": 2}
        ).json()["arrivals"]

    page.goto("/routes")
    expect(page.locator("#station-count")).not_to_have_text("—", timeout=30_000)
    page.locator(f"#network circle[data-station-id='{station['station_id']}']").click(force=True)
    expect(page.locator("#station-title")).to_have_text(f"{details['name']} ({details['code']})")
    chips = page.locator("#station-routes button.chip")
    expect(chips).to_have_count(len(details["routes_serving"]))
    assert sorted(chips.all_text_contents()) == sorted(
        r["route_code"] for r in details["routes_serving"]
    )
    rows = page.locator("#arrivals tbody tr")
    if arrivals:  # the timetable may have no service at this hour
        expect(rows).to_have_count(len(arrivals))
        assert rows.first.locator("td").first.text_content() == arrivals[0]["route_code"]
    else:
        expect(rows).to_have_text(["No arrivals soon."])
    # The alert's text is shown as text: the tags in it are not markup.
    alert = page.locator("#alerts li.alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("Ascensor fuera de servicio <b>no es HTML</b>")
    assert page.locator("#alerts b").count() == 0
    # A route chip opens that route.
    chips.first.click()
    expect(page.locator("#route-panel")).to_be_visible()
