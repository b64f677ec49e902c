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


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def install_web_page(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/static/`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
