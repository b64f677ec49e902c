"""A URL with a NUL character (`%00`) in its path or query is refused before any route reads
it: PostgreSQL cannot compare text that holds one, SQLite's FTS5 cannot parse one in a search,
and no id, name, cursor or search term needs one."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadRequest


class RefuseNulInUrl:
    """Pure ASGI: a 400 `bad_request` for such a URL; everything else passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]
        ):
            error = BadRequest("The URL holds a NUL character (%00) in its path or query.")
            await JSONResponse(error.to_dict(), status_code=error.status)(scope, receive, send)
            return
        await self.app(scope, receive, send)
