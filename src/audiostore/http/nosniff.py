"""`X-Content-Type-Options: nosniff` on every answer, bytes above all.

Stored audio is whatever a client uploaded: a file that sniffs as audio may still hold HTML
or a PDF after its header. With `nosniff` a browser keeps to the declared `audio/*` type and
never renders such bytes as a page on this origin. Set once here, outermost, so no route,
static file, signed URL, stream or error answer can go out without it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """Pure ASGI: adds the header to each response start (unless a route set it already)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == HEADER[0] for name, _ in headers):
                    headers.append(HEADER)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_header)
