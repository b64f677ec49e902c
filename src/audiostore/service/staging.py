"""Uploads land here first: a temp file, hashed and size-checked while it streams in."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from ..errors import PayloadTooLarge


class StagedUpload:
    """A temp file under `tmp_dir` that refuses to grow past `limit` bytes.

    Never holds the upload in memory; `discard()` is always safe to call.
    """

    def __init__(self, tmp_dir: Path, limit: int) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        # Held until discard(): the temp-file job (jobs/temp_files.py) removes only files no
        # live upload holds, so a crashed upload's file goes and a running one stays.
        self._lock_fd = os.open(name, os.O_RDONLY)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._hash = hashlib.sha256()
        self.limit = limit
        self.size = 0
        self.filename: str | None = None
        self.declared_content_type: str | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"The upload is larger than {self.limit} bytes (AUDIOSTORE_MAX_UPLOAD_BYTES)."
            )
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> None:
        self._file.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def read_head_tail(self, head: int, tail: int) -> tuple[bytes, bytes]:
        with self.path.open("rb") as f:
            first = f.read(head)
            f.seek(max(0, self.size - tail))
            last = f.read(tail)
        return first, last

    def read_at(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        if self._lock_fd >= 0:  # once only: the number may be reused after close
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
