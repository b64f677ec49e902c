"""Answer a first request for a rendition from its live copy (`service/fast_start.py`).

What a client sees during the first play: `200`, the live copy's Content-Type, no
Content-Length (chunked: the size is known only at the end), no ETag (the stored rendition's
ETag is its SHA-256, known once it is complete; the live copy is not those bytes for MP3,
AAC and WAV, whose stored containers are finished at their end), `Cache-Control: no-store` so
no cache keeps it in place of the stored rendition, and `Accept-Ranges: bytes`: a closed
range (`bytes=a-b`) is answered 206 once the encoder has written it, with `Content-Range:
bytes a-b/*` (`/*`: total not known yet). Any other range (`bytes=0-`, as browsers send,
open-ended or suffix ranges) gets the whole stream, as RFC 9110 allows. A HEAD before the
rendition exists answers the same headers and starts nothing.

An encode that stops after the status line has gone (a processing limit, a shutdown) breaks
the body off: the response ends without its last ASGI message, which the server answers by
closing the connection with the body unfinished (no last chunk), so the client knows it is
incomplete. It ends quietly, one warning line, rather than by an exception out of the app,
which granian and the error handler would each log as a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from ..errors import AudiostoreError, RangeNotSatisfiable
from ..service.fast_start import LiveRendition, UnmadeRendition

log = logging.getLogger(__name__)


def _headers(name: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
    }


def render_unmade(unmade: UnmadeRendition) -> Response:
    response = Response(status_code=200, headers=_headers(unmade.row.name), media_type=unmade.content_type)
    del response.headers["content-length"]  # not 0: unknown until the encode has ended
    return response


def _closed_range(header: str | None) -> tuple[int, int] | None:
    """`(first, last + 1)` for one closed range; None for anything else."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or not first.isdigit() or not last.isdigit():
        return None
    if int(last) < int(first):
        raise RangeNotSatisfiable(f"Range {header!r} cannot be satisfied.")
    return int(first), int(last) + 1


async def render_live(live: LiveRendition, request: Request) -> Response:
    """Stream `live` (or the asked range of it); releases it when the body ends or breaks."""
    headers = _headers(live.row.name)
    try:
        wanted = _closed_range(request.headers.get("range"))
        if wanted is None:
            return _BreakableStream(
                _released(live, live.chunks()), headers=headers, media_type=live.content_type
            )
        start, end = wanted
        have = await live.available(end)
        if have <= start:
            # Only an encode that ended (the whole rendition written) can be short of `start`.
            raise RangeNotSatisfiable(
                f"The rendition has {have} bytes.", headers={"Content-Range": f"bytes */{have}"}
            )
        end = min(end, have)
        total = str(have) if have < wanted[1] else "*"
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        headers["Content-Length"] = str(end - start)
        return _BreakableStream(
            _released(live, live.chunks(start, end)), status_code=206, headers=headers,
            media_type=live.content_type,
        )
    except BaseException:
        live.release()
        raise


class FirstPlayCut(Exception):
    """The encode stopped (a processing limit, a shutdown) after the status line had gone.

    Raised out of the body so that `_BreakableStream` ends the response unfinished: ending
    the body normally would hand the client a cut-off file that looks whole."""


class _BreakableStream(StreamingResponse):
    """A streamed body that `FirstPlayCut` breaks off: the response then ends without its
    last message (`more_body: False`), and the ASGI server closes the connection mid-body, as
    the ASGI spec has it for a response the app left incomplete."""

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        except FirstPlayCut:
            return  # logged once where it was raised; no traceback for a deliberate cut


async def _released(live: LiveRendition, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except AudiostoreError as exc:
        log.warning("first play of %s cut short: %s", live.row.id, exc.message)
        raise FirstPlayCut(exc.message) from None
    finally:
        live.release()
