"""What an upload reads from: a path, bytes or a binary file object, streamed in chunks.

The bytes are never held whole: a path is read chunk by chunk, a file object from where it
stands. A source that can be rewound (a path, bytes, a seekable file) may be sent again by
a retry; a pipe cannot.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO

CHUNK_BYTES = 256 * 1024
UploadSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
ProgressCallback = Callable[[int, int | None], None]
"""`progress(sent_bytes, total_bytes)`; total is None when the source's size is unknown."""

# Content-Types the service takes as a raw audio body; anything else goes as octet-stream
# (the service sniffs the real format from the bytes either way).
_RAW_TYPES = ("audio/", "video/webm", "video/mp4", "application/ogg")


class UploadBody:
    """One upload's bytes: `name`, `content_type`, `total` size, and `chunks()` to send."""

    def __init__(self, source: UploadSource, *, name: str | None = None) -> None:
        self._path: Path | None = None
        self._data: memoryview | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        self._used = False
        self.rewindable = True
        if isinstance(source, (str, os.PathLike)):
            self._path = Path(source)
            self.total: int | None = self._path.stat().st_size
            default_name: str | None = self._path.name
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._data = memoryview(source).cast("B")
            self.total = len(self._data)
            default_name = None
        elif hasattr(source, "read"):
            self._file = source
            default_name = _file_name(source)
            self.total = None
            self.rewindable = _seekable(source)
            if self.rewindable:
                self._start = source.tell()
                end = source.seek(0, io.SEEK_END)
                source.seek(self._start)
                self.total = end - self._start
        else:
            raise TypeError("upload() takes a path, bytes or a binary file object.")
        self.name = name or default_name
        guessed = mimetypes.guess_type(self.name or "")[0] or ""
        self.content_type = guessed if guessed.startswith(_RAW_TYPES) else "application/octet-stream"

    def _blocks(self) -> Iterator[bytes]:
        if self._used and not self.rewindable:
            raise ValueError("This file object cannot be rewound, so it cannot be sent again.")
        self._used = True
        if self._path is not None:
            with self._path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
        elif self._data is not None:
            for i in range(0, len(self._data), CHUNK_BYTES):
                yield bytes(self._data[i : i + CHUNK_BYTES])
        else:
            assert self._file is not None
            if self.rewindable:
                self._file.seek(self._start)
            while chunk := self._file.read(CHUNK_BYTES):
                yield chunk

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """The bytes from the start, reporting `progress(sent, total)` after each chunk."""
        sent = 0
        if progress is not None:
            progress(0, self.total)
        for chunk in self._blocks():
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent, self.total)

    async def achunks(self, progress: ProgressCallback | None = None) -> AsyncIterator[bytes]:
        """`chunks()` for `AsyncClient` (reads are small and local; they do not block long)."""
        for chunk in self.chunks(progress):
            yield chunk


def _file_name(f: object) -> str | None:
    name = getattr(f, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


def _seekable(f: IO[bytes]) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


__all__ = ["CHUNK_BYTES", "ProgressCallback", "UploadBody", "UploadSource"]
