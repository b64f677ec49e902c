"""A query parameter given twice is refused before any route reads it.

No route takes a list in its query, and FastAPI quietly keeps the last of repeated values:
`?prefix=a&prefix=b` would list `b` as if `a` had never been asked for. A 400 says so instead.
Signed URLs refuse repeats on their own (`signing.parse_signed_query`); this covers the rest.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadRequest
from ..signing import SIGNATURE_PARAM


def repeated_name(query: bytes) -> str | None:
    """The first parameter name that `query` holds more than once, if any.

    A signed URL's query is left to its own check, which refuses every spelling but the
    signed one with 403 `signature_invalid` (a tampered URL is a signature matter)."""
    if b"&" not in query and b";" not in query:
        return None  # one parameter at most: the common case costs one scan
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    seen: set[str] = set()
    repeated = None
    for name, _ in pairs:
        if name in seen and repeated is None:
            repeated = name
        seen.add(name)
    return None if SIGNATURE_PARAM in seen else repeated


class RefuseRepeatedQuery:
    """Pure ASGI: a 400 `bad_request` naming the repeated parameter; all else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (name := repeated_name(scope["query_string"])) is not None:
            error = BadRequest(f"The query parameter {name!r} is given more than once.")
            await JSONResponse(error.to_dict(), status_code=error.status)(scope, receive, send)
            return
        await self.app(scope, receive, send)
