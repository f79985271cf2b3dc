"""/dashboard in Chromium: login through the form, live figures that agree with the API,
charts drawn by Chart.js, health, endpoint latency, and the simulator started and stopped
by an operator from the page."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, expect
from tests.web.conftest import Console, WebService, log_in, shown_number

LIVE_TIMEOUT_MS = 45_000  # the live figures are cached 5 s and the page polls every 5 s
LIVE = "/api/v1/analytics/live"
WITH_SIMULATED = f"{LIVE}?include_simulated=true"


def _chart_values(page: Page, canvas: str) -> list[float]:
    return page.evaluate(
        "selector => Chart.getChart(document.querySelector(selector)).data.datasets[0].data",
        canvas,
    )


def _eventually(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_an_operator_logs_in_runs_the_simulator_and_watches_the_figures_move(
    page: Page, web_service: WebService, console: Console
) -> None:
    page.goto("/dashboard")
    # A wrong password is refused in the form, which stays open.
    console.expected.append("/api/v1/auth/token")  # the browser logs the refused request
    page.fill("#login-username", "web-operator")
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Wrong login or password.")
    expect(page.locator("#kpi-trips")).to_have_text("—")

    page.fill("#login-password", web_service.secrets["operator"][1])
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_text("web-operator · operator")
    expect(page.locator("#simulator")).to_be_visible()
    expect(page.locator("#kpi-trips")).not_to_have_text("—", timeout=LIVE_TIMEOUT_MS)
    # The simulator rides riders of its own, left out of the figures unless asked for.
    page.check("#include-simulated")
    with web_service.api("operator") as api:
        # The seed's trips end yesterday: today has only what the tests tapped.
        before = api.get(WITH_SIMULATED).json()["today"]["trips"]
        real_before = api.get(LIVE).json()["today"]

    page.fill("#sim-rate", "15")
    page.fill("#sim-minutes", "2")
    page.click("#sim-start")
    expect(page.locator("#sim-state")).to_have_attribute("data-state", "running")
    expect(page.locator("#sim-state")).to_contain_text("Running at 15/s")

    # Taps reach the KPIs and the charts.
    expect(page.locator("#kpi-trips")).not_to_have_text(str(before), timeout=LIVE_TIMEOUT_MS)
    _eventually(lambda: sum(_chart_values(page, "#chart-taps")) > 0, 45, "no taps charted")
    assert len(_chart_values(page, "#chart-hours")) == 24
    _eventually(lambda: sum(_chart_values(page, "#chart-localities")) > 0, 45, "no revenue charted")

    # Stopping asks first; "Cancel" changes nothing.
    page.click("#sim-stop")
    expect(page.locator("#confirm-question")).to_have_text(
        "Stop the traffic simulator for every operator?"
    )
    page.click("#confirm-no")
    expect(page.locator("#sim-state")).to_have_attribute("data-state", "running")
    page.click("#sim-stop")
    page.click("#confirm-yes")
    expect(page.locator("#sim-state")).to_have_attribute(
        "data-state", "stopped", timeout=LIVE_TIMEOUT_MS
    )
    expect(page.locator("#sim-state")).to_contain_text("stopped")

    # Once the run is over, the page, the API and the simulator agree on today's trips.
    with web_service.api("operator") as api:
        charged = api.get("/api/v1/simulator").json()["counters"]["taps_charged"]
        assert charged > 0

        def page_and_api_agree() -> bool:
            live = api.get(WITH_SIMULATED).json()
            shown = shown_number(page.locator("#kpi-trips").text_content())
            return live["today"]["trips"] == before + charged == shown

        _eventually(page_and_api_agree, 45, "the trips KPI never matched the API")
        revenue = api.get(WITH_SIMULATED).json()["today"]["revenue"]
        # Without the box, the figures are the real riders' alone: the run changed none.
        assert api.get(LIVE).json()["today"] == real_before
    expect(page.locator("#kpi-revenue")).to_contain_text(f"{revenue:,}".replace(",", "."))
    page.uncheck("#include-simulated")
    _eventually(
        lambda: shown_number(page.locator("#kpi-trips").text_content()) == real_before["trips"],
        45,
        "unticked, the trips KPI did not go back to the real riders'",
    )

    # Health and latency come from the service itself.
    expect(page.locator("#health tbody tr")).to_have_count(3)
    expect(page.locator("#health .status.ok")).to_have_count(3)
    routes = page.locator("#latency tbody td.mono").all_text_contents()
    assert "/api/v1/trips/start" in routes
    assert "/api/v1/analytics/live" in routes


def test_an_analyst_sees_the_figures_but_no_simulator(page: Page, web_service: WebService) -> None:
    page.goto("/dashboard")
    log_in(page, web_service, "analyst")
    expect(page.locator("#local-day")).not_to_have_text("—", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#simulator")).to_be_hidden()
    expect(page.locator("#latency tbody tr")).not_to_have_count(0)
    # A reload keeps the session of this tab; logging out ends it.
    page.reload()
    expect(page.locator("#who")).to_have_text("web-analyst · analyst")
    page.click("#logout")
    expect(page.locator("#login-dialog")).to_be_visible()
