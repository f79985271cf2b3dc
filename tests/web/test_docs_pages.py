"""The API documentation in Chromium, with no internet: Swagger UI's Authorize button gets a
token through the password flow and "Try it out" calls the API with it; ReDoc renders."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from tests.web.conftest import Console, WebService

ME = "/api/v1/auth/me"


def test_swagger_ui_authorizes_with_the_password_flow_and_calls_the_api(
    page: Page, web_service: WebService
) -> None:
    login, password = web_service.secrets["operator"]
    page.goto("/docs")
    page.click("button.authorize")
    page.fill("#oauth_username", login)
    page.fill("#oauth_password", password)
    password_flow = page.locator(".modal-ux .auth-container").first
    expect(password_flow).to_contain_text("OAuth2 (OAuth2, password)")
    password_flow.locator("button.authorize").click()
    expect(password_flow.get_by_role("heading", name="Authorized")).to_be_visible()
    page.locator(".modal-ux button.btn-done").first.click()

    operation = page.locator(f".opblock-get:has(.opblock-summary-path[data-path='{ME}'])")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    answer = operation.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".microlight").first).to_contain_text(f'"login": "{login}"')
    expect(answer.locator(".microlight").first).to_contain_text('"role": "operator"')


def test_redoc_renders_every_operation_offline(
    page: Page, web_service: WebService, console: Console
) -> None:
    # ReDoc's sidebar shows its maker's logo from their CDN, hard-coded; the page's policy
    # lets it load nothing from another origin, so the browser reports that one refusal.
    console.expected.append("cdn.redoc.ly/redoc/logo-mini.svg")
    with web_service.api() as api:
        operations = sum(len(item) for item in api.get("/openapi.json").json()["paths"].values())
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("Travel Recharge")
    expect(page.locator("[data-section-id^='tag/'] h2, [id^='operation/']")).not_to_have_count(0)
    assert page.locator("[id^='operation/']").count() == operations
