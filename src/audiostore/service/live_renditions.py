"""Renditions being encoded, readable while they grow: what a first request streams.

The job that makes a rendition (`RenditionService.ensure_rendition`, one per rendition,
shared through `RenderJobs`) muxes every packet into the stored container and into a live
copy in its scratch directory (`audio/live_copy.py`). While it runs, `LiveRenditions` knows
that file; a first request opens it and reads it as it grows (`LiveRendition.chunks`) until
the encoder has closed it. The stored rendition is put only once complete, so a reader that
leaves early can cost the encode (nobody else waiting: cancelled) but never leaves a part
of a rendition behind.

A reader opens the live file before the job can end: once it is open, the scratch dir may go
(Linux keeps an open file's bytes until its last reader closes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..audio.live_copy import LIVE_FORMATS, LiveCopy
from ..errors import ShuttingDown

# How often a reader that caught up with the encoder looks for more bytes.
_POLL_SECONDS = 0.02
_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Growing:
    path: Path
    fmt: str
    finished: bool = False  # the live copy is closed and complete
    failed: bool = False  # the encode stopped early: the live copy ends in the middle


class LiveRenditions:
    """The live copies of renditions in flight, by job key (`RenditionService.job_key`)."""

    def __init__(self) -> None:
        self._growing: dict[str, _Growing] = {}

    @contextlib.contextmanager
    def writing(self, key: str, tmp: Path, fmt: str) -> Iterator[LiveCopy | None]:
        """A live copy for the encode of `key`, known to readers until the encode returns
        (None for formats only ever served whole: HLS segments)."""
        if fmt not in LIVE_FORMATS:
            yield None
            return
        growing = _Growing(tmp / f"live.{LIVE_FORMATS[fmt].ext}", fmt)
        growing.path.touch()
        self._growing[key] = growing
        try:
            yield LiveCopy(growing.path, fmt)
        except BaseException:
            growing.failed = True
            raise
        else:
            growing.finished = True
        finally:
            if self._growing.get(key) is growing:
                del self._growing[key]

    def open(self, key: str) -> LiveReader | None:
        """A reader of the live copy of `key` from its first byte, or None if none is being
        written (not started yet, or already finished)."""
        growing = self._growing.get(key)
        if growing is None:
            return None
        try:
            f = growing.path.open("rb")
        except FileNotFoundError:  # the job ended between the lookup and the open
            return None
        return LiveReader(growing, f)


@dataclass(eq=False)
class LiveReader:
    """One reader's open file on a live copy."""

    growing: _Growing
    file: BinaryIO
    position: int = field(default=0)

    @property
    def content_type(self) -> str:
        return LIVE_FORMATS[self.growing.fmt].content_type

    @property
    def ext(self) -> str:
        return LIVE_FORMATS[self.growing.fmt].ext

    def close(self) -> None:
        self.file.close()

    async def wait_for(self, size: int, *, until: asyncio.Future[Any]) -> int:
        """Wait until the live copy holds `size` bytes (or is complete); its size then."""
        while True:
            have = _size_of(self.file)
            if have >= size or self.growing.finished:
                return _size_of(self.file)
            self._raise_if_stopped(until)
            await asyncio.sleep(_POLL_SECONDS)

    async def chunks(
        self, until: asyncio.Future[Any], *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes from `start` up to `end` (exclusive; None: to the end of the encode),
        as the encoder writes them. `until` is the wait on the job: if it fails, the body
        stops short (the client sees a cut-off response, never a complete-looking one)."""
        self.file.seek(start)
        position = start
        while end is None or position < end:
            want = _CHUNK if end is None else min(_CHUNK, end - position)
            data = self.file.read(want)
            if data:
                position += len(data)
                yield data
                continue
            if self.growing.finished:
                # Closed after our last read: what it wrote since is there now.
                data = self.file.read(want)
                if not data:
                    return
                position += len(data)
                yield data
                continue
            self._raise_if_stopped(until)
            await asyncio.sleep(_POLL_SECONDS)

    def _raise_if_stopped(self, until: asyncio.Future[Any]) -> None:
        if self.growing.failed or (until.done() and not self.growing.finished):
            failure = until.exception() if until.done() and not until.cancelled() else None
            if failure is not None:
                raise failure
            raise ShuttingDown("The rendition stopped before it was complete.")


def _size_of(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size
