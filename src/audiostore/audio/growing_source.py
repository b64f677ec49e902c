"""A file-like reader of a source that is still arriving, for decoding as it downloads.

An original in an object store is fetched to local scratch before it is decoded; for an hour
of audio that alone takes longer than a first byte may. The download writes the file and
reports its progress (`Arrival`); the decoder reads it through `GrowingSource`, which knows
the final size from the catalogue, so FFmpeg can probe, ask for the size and seek at once,
and a read of bytes not there yet waits for them. A failed download fails the read; a
cancelled job (its `WorkBudget.cancel`) stops a waiting read.

Example:
    ```py
    arrival = Arrival()
    source = GrowingSource(path, size=row.size, arrival=arrival, cancel=budget.cancel)
    transcode(source, out, profile, budget=budget)   # while a task writes `path`
    ```
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from ..errors import ShuttingDown

_WAIT = 0.05  # seconds between looks at the cancel flag while waiting for bytes


class Arrival:
    """How much of the file has arrived; written by the download, read by the decoder."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.arrived = 0
        self.complete = False
        self.failure: BaseException | None = None

    def advance(self, size: int) -> None:
        with self._cond:
            self.arrived += size
            self._cond.notify_all()

    def finish(self, failure: BaseException | None = None) -> None:
        with self._cond:
            self.complete = True
            self.failure = failure
            self._cond.notify_all()

    def wait_for(self, end: int, cancel: threading.Event) -> None:
        """Block until `end` bytes have arrived (or all there is); raise what the download
        failed with, or `ShuttingDown` once `cancel` is set."""
        with self._cond:
            while self.arrived < end and not self.complete:
                if cancel.is_set():
                    raise ShuttingDown("The work was cancelled while its source was arriving.")
                self._cond.wait(_WAIT)
            if self.failure is not None and self.arrived < end:
                raise self.failure


class GrowingSource(io.RawIOBase):
    def __init__(self, path: Path, *, size: int, arrival: Arrival, cancel: threading.Event) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._size = size
        self._arrival = arrival
        self._cancel = cancel
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # reason: RawIOBase's buffer type is wider than what is used
        want = min(len(buffer), max(0, self._size - self._pos))
        if want == 0:
            return 0
        self._arrival.wait_for(self._pos + want, self._cancel)
        data = os.pread(self._fd, want, self._pos)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
