"""206 for one small byte range of a local file, read in a single worker-thread call.

Players seek with many small Range requests. Starlette's `FileResponse` serves a range with
four worker-thread round trips (open, seek, read, close); on a busy event loop each round
trip costs more than the read itself. A range of at most `MAX_SMALL_RANGE` bytes is read here
with one `pread` in one thread call and sent as one body (bounded memory); larger and
multi-part ranges still go through `FileResponse`, which streams.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import NotFound

MAX_SMALL_RANGE = 1024 * 1024


def _read_range(path: Path, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks: list[bytes] = []
        while length > 0:
            chunk = os.pread(fd, length, start)
            if not chunk:
                raise NotFound("The audio's bytes are shorter than the catalogue says.")
            chunks.append(chunk)
            start += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class SmallFileRangeResponse(Response):
    def __init__(
        self,
        path: Path,
        start: int,
        end: int,
        *,
        size: int,
        mtime: float,
        headers: Mapping[str, str],
        media_type: str,
        send_body: bool,
    ) -> None:
        self.path = path
        self.start = start
        self.end = end
        self.send_body = send_body
        super().__init__(
            status_code=206,
            media_type=media_type,
            headers={
                **headers,
                "Last-Modified": formatdate(mtime, usegmt=True),
                "Content-Range": f"bytes {start}-{end - 1}/{size}",
                "Content-Length": str(end - start),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        if self.send_body:
            try:
                body = await anyio.to_thread.run_sync(
                    _read_range, self.path, self.start, self.end - self.start
                )
            except FileNotFoundError as exc:
                raise NotFound("The audio's bytes are missing from storage.") from exc
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": body})
