"""An upload refused before its body is read gets its answer to the client.

A refusal given while the client is still sending (401/403 from the key, 413 from the
Content-Length, 410 for a used upload URL, a tus PATCH's 409 on the wrong offset, ...) races
the body: a connection closed with unread bytes is reset, and the client may lose the answer
(a "connection reset" instead of the 4xx), since most clients read only after sending. So
before an error answer to an upload route none of whose body was read, up to
`REFUSED_BODY_READ_BYTES` more of it are read and dropped, for at most
`REFUSED_BODY_READ_SECONDS`; then the answer goes (and, if the body was longer, the server
closes the connection). A small body is read whole, so the connection stays open. The SDK and
CLI send larger files by tus, whose creation carries no body.

Applied by the request gate (request_gate.py) to every upload route; other requests pass
untouched.
"""

from __future__ import annotations

import anyio
from starlette.types import Message, Receive, Scope, Send

__all__ = ["REFUSED_BODY_READ_BYTES", "REFUSED_BODY_READ_SECONDS", "drain_before_refusal", "takes_upload"]

REFUSED_BODY_READ_BYTES = 8 * 1024 * 1024
REFUSED_BODY_READ_SECONDS = 5.0

# The routes that take an upload's body: POST /v1/audio, the signed upload URL's PUT and
# POST, and tus (creation-with-upload and PATCH).
_UPLOAD_PATHS = ("/v1/audio", "/v1/signed-upload")
_UPLOAD_PREFIX = "/v1/uploads"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def takes_upload(scope: Scope) -> bool:
    """Whether the request sends an upload's body (an HTTP request, by the request gate)."""
    if scope["method"] not in _BODY_METHODS:
        return False
    path: str = scope["path"]
    return path in _UPLOAD_PATHS or path == _UPLOAD_PREFIX or path.startswith(_UPLOAD_PREFIX + "/")


def drain_before_refusal(receive: Receive, send: Send) -> tuple[Receive, Send]:
    """`receive` and `send` for an upload request (`takes_upload`): an error answer given
    before the app took any of the body first reads and drops the rest, within the bounds."""
    # Drained only when the app took none of the body: a refusal part-way through it (a
    # body without Content-Length that grows past the limit) stops reading at once, so a
    # client streaming without end costs the server nothing more.
    body_touched = False

    async def tracked_receive() -> Message:
        nonlocal body_touched
        message = await receive()
        if message["type"] != "http.request" or message.get("body") or not message.get("more_body", False):
            body_touched = True
        return message

    async def draining_send(message: Message) -> None:
        nonlocal body_touched
        if message["type"] == "http.response.start" and message["status"] >= 400 and not body_touched:
            body_touched = True
            await _drop_rest(receive)
        await send(message)

    return tracked_receive, draining_send


async def _drop_rest(receive: Receive) -> None:
    """Read and drop what the client still sends, within the bounds."""
    seen = 0
    with anyio.move_on_after(REFUSED_BODY_READ_SECONDS):
        while seen < REFUSED_BODY_READ_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
