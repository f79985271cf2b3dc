"""/cache in Chromium: hit rate over time, namespaces, keys with TTL and size, the
cold-against-warm comparison, and the admin's delete and clear, each confirmed first."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from tests.web.conftest import WebService, log_in

ROUTE_CODES = "/api/v1/routes/codes"


def _warm_some_views(web_service: WebService) -> None:
    with web_service.api() as anonymous:
        for path in (ROUTE_CODES, "/api/v1/fares", "/api/v1/stations/identifiers"):
            assert anonymous.get(path).status_code == 200


def _keys(web_service: WebService, pattern: str | None = None) -> list[str]:
    """Every key of the namespace (matching `pattern`), page after page to the end: a key
    that exists throughout is listed whatever Redis does meanwhile (the running simulator of
    another test adds keys, and a growing table changes SCAN's order between two scans)."""
    found: list[str] = []
    cursor: str | None = "0"
    with web_service.api("admin") as admin:
        while cursor is not None:
            params = {"limit": 500, "cursor": cursor} | ({"pattern": pattern} if pattern else {})
            page = admin.get("/api/v1/cache/keys", params=params).json()
            found += [key["key"] for key in page["keys"]]
            cursor = page["next_cursor"]
    return found


def test_an_admin_watches_the_cache_deletes_a_key_and_clears_it(
    page: Page, web_service: WebService
) -> None:
    _warm_some_views(web_service)
    page.goto("/cache")
    log_in(page, web_service, "admin")

    # Keys with their TTL and size, as the API lists them.
    rows = page.locator("#keys tbody tr")
    expect(rows).not_to_have_count(0)
    shown = set(page.locator("#keys tbody td.mono").all_text_contents())
    assert shown <= set(_keys(web_service))
    expect(rows.first.locator("td").nth(1)).to_have_text(re.compile(r"^\d+ s$|^no expiry$"))
    expect(rows.first.locator("td").nth(2)).to_contain_text(" B")

    # The hit rate is charted once two polls are 5 s apart; namespaces are listed.
    page.wait_for_function(
        "() => Chart.getChart(document.querySelector('#chart-hit-rate')).data.labels.length >= 1",
        timeout=20_000,
    )
    expect(page.locator("#namespaces tbody tr")).not_to_have_count(0)
    expect(page.locator("#kpi-hit-rate")).to_contain_text("%")
    expect(page.locator("#kpi-redis")).to_contain_text("ok")

    # Cold against warm: every measured endpoint has both figures.
    page.click("#perf-run")
    expect(page.locator("#perf tbody tr")).not_to_have_count(0, timeout=90_000)
    expect(page.locator("#perf-run")).to_be_enabled(timeout=90_000)
    for cold_p50 in page.locator("#perf tbody tr td:nth-child(2)").all_text_contents():
        assert cold_p50.endswith(" ms")

    # Delete one key: asked first, then gone from the table and from Redis.
    # A view (a generation token would be replaced, not deleted).
    target = next(k for k in _keys(web_service) if "route" in k and not k.endswith(":gen"))
    page.fill("#keys-pattern", target)
    page.click("#keys-form button[type=submit]")
    expect(page.locator("#keys tbody td.mono")).to_have_text([target])
    page.locator("#keys tbody tr").first.get_by_role("button", name="Delete").click()
    expect(page.locator("#confirm-question")).to_contain_text(target)
    page.click("#confirm-yes")
    expect(page.locator("#admin-result")).to_have_text(f"{target}: deleted.")
    expect(page.locator("#keys tbody tr")).to_have_count(0)
    assert target not in _keys(web_service)

    # Clear: "Cancel" keeps every key; "Yes" deletes every view (generation tokens are
    # replaced instead, so that no fill computed before the clear lands after it).
    _warm_some_views(web_service)
    before = _keys(web_service)
    views = {key for key in before if not key.endswith(":gen")}
    assert views
    page.click("#cache-clear")
    page.click("#confirm-no")
    assert set(before) <= set(_keys(web_service))
    page.click("#cache-clear")
    expect(page.locator("#confirm-question")).to_contain_text("Clear every key")
    page.click("#confirm-yes")
    expect(page.locator("#admin-result")).to_contain_text("Cleared:")
    assert not views & set(_keys(web_service))


def test_an_operator_watches_but_cannot_change_the_cache(
    page: Page, web_service: WebService
) -> None:
    _warm_some_views(web_service)
    page.goto("/cache")
    log_in(page, web_service, "operator")
    expect(page.locator("#keys tbody tr")).not_to_have_count(0)
    expect(page.locator("#cache-clear")).to_be_hidden()
    expect(page.locator("#perf-run")).to_be_hidden()  # the performance test is for admins
    assert page.get_by_role("button", name="Delete").count() == 0
    expect(page.locator("#kpi-keys")).not_to_have_text("—")


def test_an_analyst_is_told_this_page_is_not_for_their_role(
    page: Page, web_service: WebService
) -> None:
    page.goto("/cache")
    login, password = web_service.secrets["analyst"]
    page.fill("#login-username", login)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("The analyst role cannot use this page.")
    expect(page.locator("#login-dialog")).to_be_visible()
    expect(page.locator("#keys tbody tr")).to_have_count(0)
