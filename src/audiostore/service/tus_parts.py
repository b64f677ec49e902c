"""The part file of a resumable upload: `{data_dir}/uploads/{id}.part`, on local disk.

An append opens the file, takes an exclusive `flock` (so two processes on this host, or on
hosts sharing the directory over NFS, which emulates flock with POSIX locks, never write it at
once, even if a catalogue lease was wrongly taken over), cuts it back to the committed offset
(bytes a dead PATCH wrote past it were never acknowledged), and writes at that offset. Bytes
reach the disk (`fsync`) before the catalogue records the new offset, so an acknowledged
offset always has its bytes behind it. The upload is never held in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ..disk_space import full_disk_is_507, write_all

PART_SUFFIX = ".part"


def part_path(parts_dir: Path, upload_id: str) -> Path:
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
    """Exclusive writing at the end of a part file, from the committed `offset` on."""

    def __init__(self, path: Path, offset: int) -> None:
        self._fd = os.open(path, os.O_WRONLY)  # FileNotFoundError: terminated meanwhile
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise PartBusy() from exc
        self.offset = offset
        self.written = 0
        with full_disk_is_507("uploads"):
            os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self._file = os.fdopen(self._fd, "wb", buffering=0, closefd=False)

    def write(self, data: bytes) -> None:
        with full_disk_is_507("uploads"):
            write_all(self._file, data)
        self.written += len(data)

    def sync(self) -> None:
        with full_disk_is_507("uploads"):
            os.fsync(self._fd)

    def discard(self) -> None:
        """Forget what this writer wrote (a checksum mismatch, a cut PATCH with a checksum)."""
        os.ftruncate(self._fd, self.offset)
        self.written = 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        if self._fd >= 0:
            os.close(self._fd)  # drops the flock
            self._fd = -1
