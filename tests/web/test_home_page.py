"""/ in Chromium: what the service is, and a newcomer's way to the pages, the API documents
and the health (on a phone: test_phone_layouts)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


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
