"""The web pages (the root page and four dashboards) and their static files.

The pages are plain files: no server data is ever inserted into them. They call the JSON API
from the browser with the token the login form obtained, so a page holds no secret and shows
a user nothing their role could not read from the API itself.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Response
from starlette.staticfiles import StaticFiles

from travel_recharge.kit.logs import log_event
from travel_recharge.security import public

logger = logging.getLogger("travel_recharge.web")

STATIC_DIR = Path(str(files("travel_recharge.web") / "static"))
PAGES_DIR = Path(str(files("travel_recharge.web") / "pages"))
# Fetched from the npm registry by `make` (assets/package.json pins the version); not in git.
CHART_LIBRARY = STATIC_DIR / "vendor" / "chart.umd.min.js"

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[public("web")])


@cache
def _page(name: str) -> bytes:
    return (PAGES_DIR / f"{name}.html").read_bytes()


def _html(name: str) -> Response:
    return Response(
        _page(name),
        media_type="text/html; charset=utf-8",
        # The strict default policy of kit.edge applies.
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/")
async def home() -> Response:
    """What the service is, with links to its pages, the API documents and the health."""
    return _html("index")


@router.get("/dashboard")
async def dashboard() -> Response:
    """Live KPIs, charts, health, endpoint latency and the traffic simulator."""
    return _html("dashboard")


@router.get("/routes")
async def routes_explorer() -> Response:
    """The network drawn from station coordinates; routes, arrivals and alerts."""
    return _html("routes")


@router.get("/cache")
async def cache_monitor() -> Response:
    """Hit rate over time, keys, cold-vs-warm comparison and cache administration."""
    return _html("cache")


@router.get("/insights")
async def insights() -> Response:
    """The revenue forecast and station performance (anomalies, peak hours, rank changes)."""
    return _html("insights")


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The icon, for a browser that asks at the root (a JSON answer has no link to it)."""
    return Response(
        _favicon(), media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


@cache
def _favicon() -> bytes:
    return (STATIC_DIR / "favicon.svg").read_bytes()


def static_files() -> StaticFiles:
    """Our scripts and styles, and the vendored chart library, at /static."""
    if not CHART_LIBRARY.is_file():
        # The pages still work (tables, map, actions); their charts say the library is missing.
        log_event(logger, "web.chart_library_missing", logging.WARNING, path=str(CHART_LIBRARY))
    return StaticFiles(directory=STATIC_DIR)
