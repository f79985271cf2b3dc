"""The pages and their files as the server sends them: policies, types, nothing inline."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import client_for

from travel_recharge.kit.edge import CONTENT_SECURITY_POLICY
from travel_recharge.web.router import CHART_LIBRARY

PAGES = ("/", "/dashboard", "/routes", "/cache", "/insights")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and whether any script has a body."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        self.inline_script = self.inline_script or (self._in_script and bool(data.strip()))


@pytest.mark.parametrize("path", PAGES)
async def test_each_page_is_static_html_under_a_strict_policy(app: FastAPI, path: str) -> None:
    anonymous = client_for(app)
    response = await anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    parser = _Tags()
    parser.feed(response.text)
    assert not parser.inline_script
    for tag, attributes in parser.tags:
        # No inline style or handler, no file from another origin.
        assert "style" not in attributes, tag
        assert not [name for name in attributes if name.startswith("on")], tag
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith("/"), (tag, value)
    scripts = [a["src"] for t, a in parser.tags if t == "script"]
    for src in scripts:
        assert (await anonymous.get(src or "")).status_code == 200, src


async def test_static_files_have_their_types_and_the_chart_library_is_the_pinned_one(
    client: httpx.AsyncClient,
) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content == (await client.get("/static/favicon.svg")).content
    for name, media_type in (
        ("common.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(media_type), name
        assert response.headers["x-content-type-options"] == "nosniff"
    library = await client.get("/static/vendor/chart.umd.min.js")
    assert library.status_code == 200
    assert library.content == CHART_LIBRARY.read_bytes()
    assert re.search(rb"Chart\.js v4\.5\.1", library.content[:400])
    # Nothing outside the static folder is reachable through it.
    assert (await client.get("/static/../router.py")).status_code == 404
    assert (await client.get("/static/%2e%2e/router.py")).status_code == 404


class _Links(HTMLParser):
    """Every link's target and text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links.append((self._href, data.strip()))
            self._href = None


async def test_the_root_page_says_what_the_service_is_and_links_what_a_newcomer_needs(
    app: FastAPI,
) -> None:
    anonymous = client_for(app)
    page = await anonymous.get("/")
    assert page.status_code == 200
    assert "transit smart card" in page.text
    parser = _Links()
    parser.feed(page.text)
    targets = {href for href, _ in parser.links}
    assert targets >= {"/dashboard", "/routes", "/cache", "/docs", "/redoc", "/api/v1/health"}
    for href in sorted(targets):
        # Every link answers an anonymous visitor: pages, documents and health are public.
        assert (await anonymous.get(href)).status_code == 200, href
