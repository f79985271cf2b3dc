"""/insights in Chromium: the revenue forecast (here with too little history, which it says)
and station performance, as the API answers them, for an analyst and an operator."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.web.conftest import WebService, log_in, shown_number, wait_for_forecast


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_the_forecast_and_station_performance_as_the_api_answers_them(
    page: Page, web_service: WebService, role: str
) -> None:
    forecast = wait_for_forecast(web_service)
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
