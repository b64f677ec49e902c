"""The API docs at `/docs` (Swagger UI), served whole from this server: no CDN, no network.

A self-hosted service is often on a network with no way out (or a browser that blocks third
parties), where FastAPI's default page, which loads Swagger UI from a CDN, stays blank. The
assets come from the `fastapi-offline` package (Swagger UI's `swagger-ui-bundle.js` and
`swagger-ui.css`, kept current by its maintainers), mounted from the installed package
with Starlette's `StaticFiles(packages=...)`; FastAPI's own `get_swagger_ui_html` writes
the page around them. Nothing is vendored here.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "DOCS_PATH", "install_api_docs"]

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs-assets"
# Swagger UI's default asks validator.swagger.io to draw a badge for any spec not on
# localhost: a request off this server from every page view. Off.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def _inline_script_hashes(html: str) -> str:
    """CSP source expressions for the page's inline scripts (the one that starts Swagger UI),
    so the policy can forbid every other inline script without 'unsafe-inline'."""
    bodies = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies
    )


def docs_page(app: FastAPI) -> tuple[str, dict[str, str]]:
    """The Swagger UI page for `app` and its headers: a Content-Security-Policy that lets it
    load only from this origin: its scripts, styles and images here, "Try it out" calls to
    the API."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - API docs",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    html = bytes(page.body).decode()
    # Swagger UI sets style attributes as it draws (a React app), hence 'unsafe-inline' for
    # styles only; scripts are this origin's plus the one inline starter, by its hash.
    policy = (
        f"default-src 'none'; script-src 'self' {_inline_script_hashes(html)}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    headers = {"Content-Security-Policy": policy, "X-Frame-Options": "DENY",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
    return html, headers


def install_api_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets under `/docs-assets/`. Build the app with
    `docs_url=None` (FastAPI's own page would load from a CDN)."""
    html, headers = docs_page(app)  # the same for every request: written once

    @app.get(DOCS_PATH, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    assets = StaticFiles(packages=[("fastapi_offline", "static")])
    app.mount(ASSETS_PATH, assets, name="docs-assets")
