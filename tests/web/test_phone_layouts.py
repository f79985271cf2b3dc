"""Every page on a phone (390×844, an iPhone 12-14 screen): nothing wider than the screen,
tables that scroll inside their own box, charts that fit. Each test keeps its screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.web.conftest import WebService, log_in, wait_for_flows, wait_for_forecast

PHONE = {"width": 390, "height": 844}
# What each page shows once its data has arrived.
PAGES = {
    "/": "main",
    "/dashboard": "#kpi-trips",
    "/routes": "#network",
    "/cache": "#kpi-hit-rate",
    "/insights": "#flow-map line.flow-line >> nth=0",
}


def overflowing(page: Page) -> list[str]:
    """The elements whose right edge passes the screen's, outside a box that scrolls."""
    found: list[str] = page.evaluate(
        """(width) => {
          const scrolls = (node) => {
            for (let up = node.parentElement; up; up = up.parentElement) {
              const style = getComputedStyle(up);
              if (["auto", "scroll"].includes(style.overflowX)) return true;
            }
            return false;
          };
          return [...document.querySelectorAll("body *")]
            .filter((node) => node.getClientRects().length)
            .filter((node) => node.getBoundingClientRect().right > width + 0.5 && !scrolls(node))
            .map((node) => node.tagName.toLowerCase() + (node.id ? "#" + node.id : ""));
        }""",
        PHONE["width"],
    )
    return found


@pytest.mark.parametrize("path", PAGES, ids=[path.strip("/") or "root" for path in PAGES])
def test_each_page_fits_a_phone(page: Page, web_service: WebService, path: str) -> None:
    page.set_viewport_size(PHONE)
    if path == "/insights":
        wait_for_forecast(web_service)  # before it is fitted the page meets a 503
        wait_for_flows(web_service)  # and its flows would be empty before they are counted
    page.goto(path)
    if path == "/routes":
        page.click("#login-open")  # a public page: it asks for no login by itself
    if path != "/":  # the root page is plain text and links, with no login
        log_in(page, web_service, "admin")
    expect(page.locator(PAGES[path])).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert overflowing(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for canvas in page.locator("canvas:visible").all():
        box = canvas.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
