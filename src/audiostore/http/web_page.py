"""The web page at `/`: plain HTML, JS and CSS from `http/static/` (no build step).

It only speaks the public HTTP API with the key the user signs in with, so it works against
every store and catalogue.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")

router = APIRouter(include_in_schema=False)

# The page runs only its own script and style and talks only to this origin; media may come
# from anywhere, since a signed URL on S3 (direct mode) points at the bucket. It may not be
# framed (clickjacking a delete button), and leaks no URL in a Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src * blob: data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    # Browsers and bookmarking tools ask for /favicon.ico whatever the page links; the page's
    # own SVG answers them rather than a 404 (every current browser draws an SVG icon).
    return FileResponse(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def install_web_page(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/static/`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
