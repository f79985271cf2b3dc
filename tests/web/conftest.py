"""Browser tests: Debian's Chromium, driven by Playwright, against a real service.

The service is `travel-recharge serve` with two workers on a scratch database seeded with
demo riders (yesterday and before), the session's Redis and a namespace of its own. Staff
accounts are made with the `accounts create` command, and the pages are used the way a
person uses them: through the login form. Every page's console must stay free of errors and
every test leaves a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from tests.conftest import ServerUrls

from travel_recharge.bench.server import service_process
from travel_recharge.kit.scratch import scratch_database

CHROMIUM = Path(os.environ.get("TR_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
STAFF = ("analyst", "operator", "admin")
# Without the background-networking flags Chromium keeps calling Google's hosts, which a
# closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class WebService:
    base_url: str
    environment: dict[str, str]
    secrets: dict[str, tuple[str, str]]  # role -> (login, password)

    def token(self, role: str) -> dict[str, str]:
        login, password = self.secrets[role]
        answer = httpx.post(
            f"{self.base_url}/api/v1/auth/token",
            data={"grant_type": "password", "username": login, "password": password},
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def api(self, role: str | None = None) -> httpx.Client:
        """A client of the service acting as `role` (None: anonymous)."""
        headers = self.token(role) if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def _command(environment: dict[str, str], *args: str) -> str:
    launcher = Path(sys.executable).parent / "travel-recharge"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")} | environment
    done = subprocess.run(
        [str(launcher), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"travel-recharge {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def web_service(test_servers: ServerUrls) -> Iterator[WebService]:
    # Derived from the session's namespace: its rate-limit sets go with the session's.
    namespace = f"{test_servers.namespace}web{uuid.uuid4().hex[:8]}"
    with scratch_database(test_servers.server_database_url, "tr_web") as database_url:
        environment = {
            "TR_DATABASE_URL": database_url,
            "TR_REDIS_URL": test_servers.redis_url,
            "TR_CACHE_NAMESPACE": namespace,
            # The simulator makes its riders at its first start: few, so the page's start
            # answers at once.
            "TR_SIMULATOR_RIDERS": "60",
        }
        _command(environment, "migrate")
        _command(environment, "seed", "--users", "200", "--days", "3", "--quiet", "--workers", "1")
        secrets = {}
        for role in STAFF:
            login = f"web-{role}"
            created = json.loads(
                _command(environment, "accounts", "create", "--login", login, "--role", role)
            )
            secrets[role] = (login, created["secret"])
        with service_process(environment, workers=2) as server:
            yield WebService(f"http://127.0.0.1:{server.port}", environment, secrets)


# Module scope: Playwright's sync driver keeps an event loop running in this thread while it
# lives, where nothing else (the service's set-up, the async tests of other modules) could
# run its own. So it starts after the service and stops at the end of each module.
@pytest.fixture(scope="module")
def playwright(web_service: WebService) -> Iterator[Playwright]:
    del web_service
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Console:
    """What the page wrote to its console and the exceptions it threw."""

    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # substrings a test said would come

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(part in e for part in self.expected)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(
    browser: Browser, web_service: WebService, console: Console, request: pytest.FixtureRequest
) -> Iterator[Page]:
    context = browser.new_context(
        base_url=web_service.base_url, viewport={"width": 1400, "height": 1000}
    )
    page = context.new_page()
    page.on("console", console.record)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert console.unexpected() == [], "the page logged errors to its console"


def log_in(page: Page, web_service: WebService, role: str) -> None:
    """Log in through the page's own form, as a person would."""
    login, password = web_service.secrets[role]
    page.locator("#login-dialog").wait_for(state="visible")
    page.fill("#login-username", login)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.locator("#login-dialog").wait_for(state="hidden")
    page.locator("#who").wait_for()


def wait_for_forecast(web_service: WebService, timeout_s: float = 90.0) -> dict[str, Any]:
    """The revenue forecast once a worker's job has fitted it (10 s after a worker starts),
    so a page asking for it meets no 503 (which the browser logs as an error)."""
    deadline = time.monotonic() + timeout_s
    with web_service.api("analyst") as api:
        while True:
            response = api.get("/api/v1/analytics/revenue-forecast")
            if response.status_code == 200:
                answer: dict[str, Any] = response.json()
                return answer
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, "the forecast was never fitted"
            time.sleep(1)


def shown_number(text: str | None) -> int:
    """A figure as the page shows it ("$ 12.345", "1.234"), as a number; -1 when it has none."""
    return int(re.sub(r"\D", "", text or "") or -1)


def wait_for_flows(web_service: WebService, timeout_s: float = 90.0) -> dict[str, Any]:
    """The default week's origin-destination matrix once a worker's job has counted the
    seeded days (15 s after a worker starts)."""
    deadline = time.monotonic() + timeout_s
    with web_service.api("analyst") as api:
        while True:
            response = api.get("/api/v1/analytics/od-matrix")
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            if answer["coverage"]["days_counted"] > 0:
                return answer
            assert time.monotonic() < deadline, "the flows were never counted"
            time.sleep(1)
