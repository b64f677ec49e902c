"""Render a `ContentSource` as bytes with Range, ETag, 304, If-Range and HEAD.

Local blobs go out through Starlette's `FileResponse` (sendfile / `http.response.pathsend`);
remote blobs are streamed from the store; direct-signing stores get a redirect.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ..errors import NotFound
from ..service import ContentSource
from .byte_ranges import parse_range
from .store_stream_response import StoreStreamResponse
from .small_range import MAX_SMALL_RANGE, SmallFileRangeResponse

# Bytes under one id never change, so a client may keep them. Fetched with an API key they
# are the key holder's: private. Fetched by a signed URL they are for whoever holds that URL,
# so a CDN or shared cache may keep them too, but only while the URL (and the audio) lives.
IMMUTABLE = "private, max-age=31536000, immutable"


def shared_cache_control(source: ContentSource, url_expires: int, now: datetime) -> str:
    """`public` for a signed URL's answer, for as long as the URL and the audio both last."""
    seconds = url_expires - int(now.timestamp())
    if source.row.expires_at is not None:
        seconds = min(seconds, int((source.row.expires_at - now).total_seconds()))
    return f"public, max-age={max(0, seconds)}, immutable"


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == etag for t in header.split(","))


def render_content(source: ContentSource, request: Request, *, cache_control: str = IMMUTABLE) -> Response:
    headers = {
        "ETag": source.etag,
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(source.row.name)}",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None and _etag_matches(inm, source.etag):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    if source.redirect_url is not None:
        return RedirectResponse(source.redirect_url, status_code=307, headers={"Cache-Control": "no-store"})

    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    use_range = range_header is not None and (if_range is None or if_range.strip() == source.etag)
    ranges = parse_range(range_header, source.size) if use_range and range_header else None

    if source.path is not None:
        try:
            stat = os.stat(source.path)
        except FileNotFoundError as exc:
            raise NotFound("The audio's bytes are missing from storage.") from exc
        if ranges is not None and len(ranges) == 1 and ranges[0][1] - ranges[0][0] <= MAX_SMALL_RANGE:
            start, end = ranges[0]
            return SmallFileRangeResponse(
                source.path, start, end, size=stat.st_size, mtime=stat.st_mtime, headers=headers,
                media_type=source.content_type, send_body=request.method != "HEAD",
            )
        return FileResponse(
            source.path, media_type=source.content_type, headers=headers, stat_result=stat,
            content_disposition_type="inline",
        )

    assert source.store is not None
    store, key = source.store, source.key
    if ranges is not None and len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{source.size}"
        headers["Content-Length"] = str(end - start)
        body = None if request.method == "HEAD" else store.get_stream(key, start=start, end=end)
        return _stream(body, 206, headers, source.content_type)
    headers["Content-Length"] = str(source.size)
    body = None if request.method == "HEAD" else store.get_stream(key)
    return _stream(body, 200, headers, source.content_type)


def _stream(
    body: AsyncIterator[bytes] | None, status: int, headers: dict[str, str], media_type: str
) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StoreStreamResponse(body, status_code=status, headers=headers, media_type=media_type)
