"""CORS for browser apps on other origins (AUDIOSTORE_CORS_ORIGINS), on the API and on
signed service URLs alike: preflights are answered, and the headers a player or an upload
widget needs to read are exposed. Starlette's CORSMiddleware does the work."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from ..settings import HttpSettings

ALLOWED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# tus 1.0 (resumable uploads): what a tus client sends, and what it must read back.
TUS_REQUEST_HEADERS = [
    "Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Checksum",
    "Upload-Concat", "Upload-Defer-Length", "X-HTTP-Method-Override",
]
TUS_RESPONSE_HEADERS = [
    "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm",
    "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Expires", "Upload-Concat",
    "Upload-Defer-Length", "Location",
]
ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "Range", "If-Range", "If-None-Match", "Idempotency-Key",
    "X-Request-Id", *TUS_REQUEST_HEADERS,
]
EXPOSED_HEADERS = [
    "Content-Range", "Accept-Ranges", "Content-Length", "ETag", "Content-Disposition",
    "Idempotent-Replayed", "Retry-After", "X-Request-Id", *TUS_RESPONSE_HEADERS,
]


def install_cors(app: Starlette, settings: HttpSettings) -> None:
    """Add the CORS layer when origins are configured (none: no CORS headers at all).

    Add it last, so it wraps every route and error answer. Credentials (cookies) are never
    allowed: the API authenticates with a Bearer key, signed URLs with their signature.
    """
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=settings.cors_max_age,
    )
