"""The part file of a resumable upload: `{data_dir}/uploads/{id}.part`, on local disk.

An append opens the file and takes an exclusive `flock` on it for as long as the PATCH runs:
that lock is the PATCH's claim on the upload (two processes on this host, or on hosts sharing
the directory over NFS, which emulates flock with POSIX locks, never write it at once; the
kernel drops it when the process dies, so a killed server frees the upload at once). Under the
lock the caller reads the committed offset and writes from there; the file is cut back to it
(bytes a dead PATCH wrote past it were never acknowledged) in the same worker-thread call as
the first write, or the sync, whichever comes first (each hop to a thread and back costs a
PATCH more CPU than the cut). Each write starts the kernel's
writeback of its range (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, on Linux), so the disk
drains the part while the rest arrives instead of all at once at the end. Whether a PATCH also
waits for its bytes to reach the platter (`fdatasync`) before its offset is committed is the
caller's choice (service/tus_uploads.py says why it normally does not). The upload is never
held in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path

from ..disk_space import full_disk_is_507, writev_all
from ..durable_files import start_writeback
from ..errors import UploadNotFound

PART_SUFFIX = ".part"
UPLOAD_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def part_path(parts_dir: Path, upload_id: str) -> Path:
    """Where an upload's bytes are. The id comes from a URL: one not of the shape this
    service issues (a UUID) names no upload, and never becomes a file name (too long for the
    file system, or holding what a path must not)."""
    if not UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound()
    return parts_dir / f"{upload_id}{PART_SUFFIX}"


def create_part(parts_dir: Path, upload_id: str) -> Path:
    """An empty part file (before the catalogue row: a crash between leaves a file without a
    row, which the expiry job removes; never a row without its file)."""
    with full_disk_is_507("uploads"):
        parts_dir.mkdir(parents=True, exist_ok=True)
        path = part_path(parts_dir, upload_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    return path


def remove_part(parts_dir: Path, upload_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        part_path(parts_dir, upload_id).unlink()


class PartBusy(Exception):
    """Another writer holds the part file's lock."""


class PartWriter:
    """Exclusive writing at the end of a part file. `PartWriter(path)` takes the lock (and
    reads the file's first `head_bytes`, in the same call, for a caller that needs them);
    `begin(offset)` makes the committed `offset` where the writes go, and the first `write`
    or `sync` cuts the file back to it."""

    def __init__(self, path: Path, head_bytes: int = 0) -> None:
        self._fd = os.open(path, os.O_RDWR)  # FileNotFoundError: terminated meanwhile
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise PartBusy() from exc
        self.offset = 0
        self.written = 0
        self.size_found = os.fstat(self._fd).st_size  # before any cut: what the disk kept
        self.head = os.pread(self._fd, head_bytes, 0) if head_bytes else b""
        self._begun = False
        self._cut_done = False

    def begin(self, offset: int) -> None:
        """Write from `offset` (no I/O: the cut comes with the first write or sync)."""
        self.offset = offset
        self.written = 0
        self._begun = True
        self._cut_done = False

    def _cut(self) -> None:
        if not self._cut_done:
            assert self._begun, "begin() first"
            with full_disk_is_507("uploads"):
                os.ftruncate(self._fd, self.offset)
            os.lseek(self._fd, self.offset, os.SEEK_SET)
            self._cut_done = True

    def write(self, pieces: list[bytes]) -> None:
        """Append the pieces, one after the other, in as few `writev` calls as the kernel
        takes (never joined into one copy first)."""
        self._cut()
        with full_disk_is_507("uploads"):
            n = writev_all(self._fd, pieces)
        start_writeback(self._fd, self.offset + self.written, n)
        self.written += n

    def read_at(self, position: int, n: int) -> bytes:
        """Bytes of the part (committed or just written), from the page cache."""
        return os.pread(self._fd, n, position)

    def sync(self) -> None:
        self._cut()
        with full_disk_is_507("uploads"):
            os.fdatasync(self._fd)

    def discard(self) -> None:
        """Forget what this writer wrote (a checksum mismatch, a cut PATCH with a checksum)."""
        os.ftruncate(self._fd, self.offset)
        self.written = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # drops the flock
            self._fd = -1


def lock_idle_part(path: Path) -> PartWriter | None:
    """The part's lock for termination and expiry, which must not remove an upload a PATCH is
    writing: PartBusy if one holds it now, None if there is no part (already removed)."""
    try:
        return PartWriter(path)
    except FileNotFoundError:
        return None
