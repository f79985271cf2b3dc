"""Swagger UI at /docs and ReDoc at /redoc, from the package's own copies of their bundles.

FastAPI's default pages load them from a CDN, which a machine with no internet (or a locked-
down network) cannot reach: the documentation would be a blank page. Both start with an
inline script, so these two pages, and only they, allow inline script and style.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import HTMLResponse

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
VENDOR = "/static/vendor"
FAVICON = "/static/favicon.svg"

DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        # ReDoc runs its search index in a worker it makes from a blob.
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


def install_docs(app: FastAPI) -> None:
    """Add the two documentation pages; create the app with docs_url=None, redoc_url=None."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{VENDOR}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{VENDOR}/swagger-ui.css",
                swagger_favicon_url=root + FAVICON,
                oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
            )
        )

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_policy(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{VENDOR}/redoc.standalone.js",
                redoc_favicon_url=root + FAVICON,
                with_google_fonts=False,
            )
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_PATH, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
