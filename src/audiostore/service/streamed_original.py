"""The original of an object in a remote store, decodable while it downloads.

A rendition's encoder reads it through `GrowingSource` as the bytes arrive in the scratch
directory, so the first encoded bytes of an hour-long original in S3 leave after its first
chunks, not after the whole download. (Local stores need none of this: the blob is a file.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from ..audio.growing_source import Arrival, GrowingSource
from ..blobstores import BlobNotFound, BlobStore
from ..catalog import AudioRow
from ..errors import NotFound


@contextlib.asynccontextmanager
async def original_as_it_arrives(
    store: BlobStore, row: AudioRow, tmp: Path, cancel: threading.Event
) -> AsyncIterator[GrowingSource]:
    """A reader of `row`'s original, downloading into `tmp` meanwhile; the download is
    stopped on exit if it is still going."""
    path = tmp / f"source.{row.format}"
    path.touch()
    arrival = Arrival()

    async def fetch() -> None:
        try:
            async with await anyio.open_file(path, "wb") as f:
                async for chunk in store.get_stream(row.key):
                    await f.write(chunk)
                    await f.flush()
                    arrival.advance(len(chunk))
        except BlobNotFound as exc:  # deleted while we began to render it
            arrival.finish(NotFound("The audio's bytes are missing from storage."))
            raise NotFound() from exc
        except BaseException as exc:
            arrival.finish(exc)
            raise
        arrival.finish()

    task = asyncio.get_running_loop().create_task(fetch())
    source = GrowingSource(path, size=row.size, arrival=arrival, cancel=cancel)
    try:
        yield source
    finally:
        source.close()
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
