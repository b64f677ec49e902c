"""What an upload reads from: a path, bytes or a binary file object, streamed in chunks.

The bytes are never held whole: a path is read chunk by chunk, a file object from where it
stands. A source that can be rewound (a path, bytes, a seekable file) may be sent again by
a retry; a pipe cannot.
"""

from __future__ import annotations

import hashlib
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

    def _blocks(self, start: int = 0, stop: int | None = None, *, sending: bool = True) -> Iterator[bytes]:
        """The bytes in [start, stop) (stop None: to the end); only a rewindable source can
        start anywhere but where it stands, and a source that cannot rewind is sent once
        (`sending=False`: a read that does not count as that one time, as for a checksum)."""
        if self._used and not self.rewindable:
            raise ValueError("This file object cannot be rewound, so it cannot be sent again.")
        if start and not self.rewindable:
            raise ValueError("This file object cannot be read from an offset.")
        self._used = self._used or sending
        left = None if stop is None else stop - start
        if self._path is not None:
            with self._path.open("rb") as f:
                f.seek(start)
                yield from _read_up_to(f, left)
        elif self._data is not None:
            end = len(self._data) if stop is None else min(stop, len(self._data))
            for i in range(start, end, CHUNK_BYTES):
                yield bytes(self._data[i : min(i + CHUNK_BYTES, end)])
        else:
            assert self._file is not None
            if self.rewindable:
                self._file.seek(self._start + start)
            yield from _read_up_to(self._file, left)

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """The bytes from the start, reporting `progress(sent, total)` after each chunk."""
        return _reporting(self._blocks(), 0, self.total, progress)

    async def achunks(self, progress: ProgressCallback | None = None) -> AsyncIterator[bytes]:
        """`chunks()` for `AsyncClient` (reads are small and local; they do not block long)."""
        for chunk in self.chunks(progress):
            yield chunk

    def part(self, start: int, stop: int) -> BodyPart:
        """The bytes in [start, stop), to send as one request of a resumable upload."""
        return BodyPart(self, start, stop)

    def identity(self) -> tuple[str, int, int] | None:
        """What names this source across runs: a path's absolute name, size and mtime (ns);
        None for bytes and file objects, which a later process cannot find again."""
        if self._path is None:
            return None
        st = self._path.stat()
        return str(self._path.resolve()), st.st_size, st.st_mtime_ns


class BodyPart:
    """A slice of an `UploadBody`: one PATCH of a tus upload. Progress counts from the
    whole upload's start, so a bar goes on from where the service's offset stands."""

    def __init__(self, body: UploadBody, start: int, stop: int) -> None:
        self.body = body
        self.start = start
        self.stop = stop
        self.size = stop - start

    def sha256(self) -> bytes:
        """The slice's digest, read once before it is sent (`Upload-Checksum`): bytes that
        change on the way, or in the file meanwhile, are refused (460), not stored."""
        digest = hashlib.sha256()
        for block in self.body._blocks(self.start, self.stop, sending=False):
            digest.update(block)
        return digest.digest()

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        return _reporting(self.body._blocks(self.start, self.stop), self.start, self.body.total, progress)

    async def achunks(self, progress: ProgressCallback | None = None) -> AsyncIterator[bytes]:
        for chunk in self.chunks(progress):
            yield chunk


def _reporting(
    blocks: Iterator[bytes], sent: int, total: int | None, progress: ProgressCallback | None
) -> Iterator[bytes]:
    if progress is not None:
        progress(sent, total)
    for chunk in blocks:
        yield chunk
        sent += len(chunk)
        if progress is not None:
            progress(sent, total)


def _read_up_to(f: IO[bytes], left: int | None) -> Iterator[bytes]:
    while left is None or left > 0:
        chunk = f.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def _file_name(f: object) -> str | None:
    name = getattr(f, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


def _seekable(f: IO[bytes]) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


__all__ = ["CHUNK_BYTES", "BodyPart", "ProgressCallback", "UploadBody", "UploadSource"]
