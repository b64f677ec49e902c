"""The baseline for Range GETs: a bare FastAPI app returning Starlette's `FileResponse`.

No auth, no catalogue, no middleware: the fastest a FastAPI handler can serve one file.
`BENCH_FILE` names the file; served at `GET /file`.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import FileResponse


def create_app() -> FastAPI:
    path = os.environ["BENCH_FILE"]
    app = FastAPI()

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(path, media_type="audio/wav")

    return app
