"""A cap on request bodies other than uploads, so no JSON body is held in memory unbounded.

(FastAPI's own `max_body_size` answers a too-long `Content-Length` with a plain-text 413;
this answers with the error catalogue's JSON, like every other error.)

Every route but `POST /v1/audio` takes a small JSON body (a patch, ids, a queue, a TTS
request); FastAPI reads such a body whole before it validates it. Past the cap the answer is
413 `too_large`: at once when `Content-Length` says so, else as soon as the bytes read pass it.
Uploads have their own limit (AUDIOSTORE_MAX_UPLOAD_BYTES) and stream to disk.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from ..errors import PayloadTooLarge

__all__ = ["BASE_JSON_BODY_BYTES", "JsonBodyCap", "is_upload", "json_body_cap"]

BASE_JSON_BODY_BYTES = 1024 * 1024
JSON_BYTES_PER_TEXT_CHAR = 12  # a character escaped as a surrogate pair: \\uXXXX\\uXXXX


def json_body_cap(tts_max_text_chars: int) -> int:
    """1 MiB, and room for the longest text a TTS request may carry, however it is escaped."""
    return BASE_JSON_BODY_BYTES + JSON_BYTES_PER_TEXT_CHAR * tts_max_text_chars


def _too_large(cap: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"A request body other than an upload may hold at most {cap} bytes.")


# Upload bodies (each has its own limit, AUDIOSTORE_MAX_UPLOAD_BYTES, and streams to disk):
# POST /v1/audio, the signed upload URL's PUT/POST, and tus under /v1/uploads.
_UPLOAD_PATHS = ("/v1/audio", "/v1/signed-upload")
_TUS_PREFIX = "/v1/uploads"


def is_upload(scope: Scope) -> bool:
    """Whether the request is to an upload route, whose body this cap leaves alone."""
    path = scope["path"]
    if path == _TUS_PREFIX or path.startswith(_TUS_PREFIX + "/"):
        return True
    return scope["method"] in ("POST", "PUT") and path in _UPLOAD_PATHS


class JsonBodyCap:
    """The cap, in two parts the request gate (request_gate.py) applies to every request but
    an upload: the declared length checked before any route runs, the bytes read counted."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def refusal(self, scope: Scope) -> PayloadTooLarge | None:
        """413 at once when the request's `Content-Length` is past the cap."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    return _too_large(self.max_bytes)
                break
        return None

    def counted(self, receive: Receive) -> Receive:
        """`receive`, raising once the body read passes the cap."""
        seen = 0
        cap = self.max_bytes

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    # An HTTPException, since FastAPI turns anything else raised while it
                    # reads a body into a 400; the app's handler renders it as 413 too_large.
                    raise HTTPException(413, _too_large(cap).message)
            return message

        return counted_receive
