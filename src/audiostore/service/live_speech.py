"""Speech being made right now, read by every listener that asked for it.

One synthesis (a producer task) appends the bytes listeners get to a spool file; each
listener reads the spool from its start at its own pace, so a slow client never holds the
engine back and an identical request made meanwhile joins instead of synthesising again.
The spool is opened by each listener when it joins: the producer may remove its path once
it is done while the listeners still read.

Who decides what is kept: when the last listener leaves before the speech is complete, the
producer is cancelled (nobody waits for it) and nothing is stored. Once every sentence is
encoded, the producer stores the result whatever the listeners do; each listener's stream
ends only when that store has settled, so a request that follows a finished response finds
the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio

from ..disk_space import full_disk_is_507, write_all

__all__ = ["LiveSpeech"]

READ_CHUNK = 64 * 1024


class LiveSpeech:
    """The spool of one synthesis in progress and the listeners reading it."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self._spool_file = spool.open("wb", buffering=0)
        self.published = 0  # bytes of the spool listeners may read
        self.complete = False  # every byte is published: from here on nothing cancels the producer
        self.error: BaseException | None = None  # the synthesis failed; listeners raise it
        self.settled = asyncio.Event()  # stored (or failed): the producer has nothing left to do
        self.listeners = 0
        self.producer: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # --- the producer's side -----------------------------------------------------------
    async def publish(self, data: bytes) -> None:
        if data:
            await anyio.to_thread.run_sync(self._append, data)
            self.published += len(data)
            self._wake()

    def _append(self, data: bytes) -> None:
        with full_disk_is_507("speech scratch"):  # a listener must never read a short write
            write_all(self._spool_file, data)

    def finish_publishing(self) -> None:
        self.complete = True
        self._spool_file.close()
        self._wake()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.settle()

    def settle(self) -> None:
        with contextlib.suppress(OSError):
            self._spool_file.close()
        self.settled.set()
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- a listener's side -------------------------------------------------------------
    def join(self) -> AsyncGenerator[bytes, None]:
        """A new listener: the speech from its first byte. Counted from now, not from its
        first read, so the producer is not cancelled between a join and that read."""
        self.listeners += 1
        fd = os.open(self.spool, os.O_RDONLY)
        return self._read(fd)

    async def _read(self, fd: int) -> AsyncGenerator[bytes, None]:
        offset = 0
        try:
            while True:
                if offset < self.published:
                    want = min(READ_CHUNK, self.published - offset)
                    data = await anyio.to_thread.run_sync(os.pread, fd, want, offset)
                    offset += len(data)
                    yield data
                elif self.error is not None:
                    raise self.error
                elif self.complete:
                    await self.settled.wait()  # stored (or its storing failed): the cache is decided
                    return
                else:
                    await self._changed.wait()
        finally:
            os.close(fd)
            self.listeners -= 1
            if self.listeners == 0 and not self.complete and self.producer is not None:
                self.producer.cancel()
