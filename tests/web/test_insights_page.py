"""/insights in Chromium: the revenue forecast (here with too little history, which it says),
station performance and the trip flows on the map, as the API answers them."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.web.conftest import (
    WebService,
    log_in,
    shown_number,
    wait_for_flows,
    wait_for_forecast,
)


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_the_forecast_and_station_performance_as_the_api_answers_them(
    page: Page, web_service: WebService, role: str
) -> None:
    forecast = wait_for_forecast(web_service)
    wait_for_flows(web_service)  # before the daily job's first count the riders are a 503
    # The service's data is three seeded days: the forecast says what it lacks.
    assert forecast["status"] == "insufficient_history"
    page.goto("/insights")
    log_in(page, web_service, role)
    expect(page.locator("#forecast-summary")).to_have_text(
        f"Not enough history: {forecast['history_days']} days up to {forecast['history_to']};"
        f" the forecast and its backtest need {forecast['min_history_days']}."
    )

    day = page.locator("#performance-day").input_value()  # yesterday, the seed's last day
    with web_service.api(role) as api:
        found = api.get(
            "/api/v1/analytics/station-performance", params={"day": day, "weeks": 8}
        ).json()
    expect(page.locator("#performance-summary")).to_contain_text(
        f"{found['weekday']} {day}: {found['hours_judged']} station-hours judged"
    )
    rows = page.locator("#stations tbody tr")
    expect(rows).to_have_count(min(30, len(found["stations"])))
    assert len(found["stations"]) > 0
    busiest = found["stations"][0]
    first = rows.nth(0).locator("td")
    expect(first.nth(0)).to_have_text(f"{busiest['name']} ({busiest['code']})")
    assert shown_number(first.nth(1).text_content()) == busiest["boardings"]
    expect(first.nth(4)).to_have_text(busiest["busiest_15_min"] or "—")

    # Another history length, through the form.
    page.fill("#performance-weeks", "4")
    page.click("#performance-form button[type=submit]")
    expect(page.locator("#performance-summary")).to_contain_text(
        f"against {len(found['history_days'][:4])} earlier"
    )


def drawn_lines(pairs: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """The lines the map should draw: both directions together, none within one place."""
    lines: dict[tuple[str, str], int] = {}
    for pair in pairs:
        a, b = sorted((pair["origin"]["code"], pair["destination"]["code"]))
        if a != b:
            lines[a, b] = lines.get((a, b), 0) + pair["trips"]
    return lines


def test_trip_flows_on_the_map_and_the_transfers_as_the_api_answers_them(
    page: Page, web_service: WebService
) -> None:
    matrix = wait_for_flows(web_service)
    page.goto("/insights")
    log_in(page, web_service, "analyst")
    shares = matrix["shares"]
    assert shares["trips"] > 0
    expect(page.locator("#flows-summary")).to_contain_text(
        f"destination observed {shares['observed_share'] * 100:.1f}%, inferred "
        f"{shares['inferred_share'] * 100:.1f}%, unknown {shares['unknown_share'] * 100:.1f}%"
    )
    lines = drawn_lines(matrix["pairs"])
    drawn = page.locator("#flow-map line.flow-line")
    expect(drawn).to_have_count(min(40, len(lines)))
    assert int(drawn.nth(0).get_attribute("data-trips") or -1) == max(lines.values())
    assert float(drawn.nth(0).get_attribute("stroke-width") or -1) == 14.0
    first = page.locator("#flow-pairs tbody tr").nth(0).locator("td")
    busiest = matrix["pairs"][0]
    expect(first.nth(0)).to_contain_text(busiest["origin"]["name"])
    assert shown_number(first.nth(2).text_content()) == busiest["trips"]

    # Between stations in the morning peak, through the form.
    page.select_option("#flows-level", "station")
    page.select_option("#flows-band", "am_peak")
    page.click("#flows-form button[type=submit]")
    with web_service.api("analyst") as api:
        stations = api.get(
            "/api/v1/analytics/od-matrix", params={"level": "station", "band": "am_peak"}
        ).json()
        transfers = api.get("/api/v1/analytics/transfer-flows", params={"band": "am_peak"}).json()
    expect(page.locator("#flows-summary")).to_contain_text(
        f"observed {stations['shares']['observed_share'] * 100:.1f}%"
    )
    expect(drawn).to_have_count(min(40, len(drawn_lines(stations["pairs"]))))
    expect(page.locator("#transfer-kinds tbody tr")).to_have_count(len(transfers["by_kind"]))
    expect(page.locator("#transfers-summary")).to_contain_text("transfers linked")
    assert shown_number(page.locator("#transfers-summary").text_content()) == transfers["transfers"]


def test_riders_as_the_api_answers_them(page: Page, web_service: WebService) -> None:
    wait_for_flows(web_service)  # the daily job counts the rider figures with the flows
    with web_service.api("operator") as api:
        riders = api.get("/api/v1/analytics/riders").json()
    page.goto("/insights")
    log_in(page, web_service, "operator")
    summary = page.locator("#riders-summary")
    expect(summary).to_contain_text(f"{riders['day']}: ")
    assert (
        shown_number((summary.text_content() or "").split(" cards rode")[0].split(": ")[1])
        == (riders["active_cards_day"])
    )
    rows = page.locator("#segments tbody tr")
    expect(rows).to_have_count(len(riders["segments"]))
    first = riders["segments"][0]
    expect(rows.nth(0).locator("td").nth(0)).to_have_text(first["segment"])
    assert shown_number(rows.nth(0).locator("td").nth(1).text_content()) == first["cards"]
    amounts = page.locator("#recharge-amounts tbody tr")
    expect(amounts).to_have_count(len(riders["recharges"]["amounts"]))
    assert (
        sum(
            shown_number(amounts.nth(i).locator("td").nth(1).text_content())
            for i in range(amounts.count())
        )
        == riders["recharges"]["recharges"]
    )
