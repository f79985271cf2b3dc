"""/ in Chromium: what the service is, and a newcomer's way to the pages, the API documents
and the health; read on a phone (390×844) without scrolling sideways."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

PHONE = {"width": 390, "height": 844}


def test_a_newcomer_finds_the_pages_the_documents_and_the_health(page: Page) -> None:
    page.goto("/")
    expect(page.locator("main")).to_contain_text("transit smart card")
    page.get_by_role("link", name="Swagger UI").click()
    expect(page).to_have_url(re.compile(r"/docs$"))
    page.goto("/")
    page.locator("main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.goto("/")
    page.get_by_role("link", name="Service").click()
    expect(page.locator("body")).to_contain_text('"status"')


def test_the_root_page_fits_a_phone(page: Page) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/")
    expect(page.locator("main")).to_contain_text("transit smart card")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    # The header's links wrap below the name instead of running off the screen.
    for name in ("Dashboard", "Routes", "Cache"):
        box = page.locator("header").get_by_role("link", name=name).bounding_box()
        assert box is not None, name
        assert box["x"] + box["width"] <= PHONE["width"], name
