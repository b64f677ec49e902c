"""The part file of a resumable upload: `{data_dir}/uploads/{id}.part`, on local disk.

An append opens the file, takes an exclusive `flock` (so two processes on this host, or on
hosts sharing the directory over NFS, which emulates flock with POSIX locks, never write it at
once, even if a catalogue lease was wrongly taken over), cuts it back to the committed offset
(bytes a dead PATCH wrote past it were never acknowledged), and writes at that offset. Bytes
reach the disk (`fdatasync`: the data and the file size, not the timestamps nothing reads)
before the catalogue records the new offset, so an acknowledged offset always has its bytes
behind it. Each write also starts the kernel's writeback of its range at once
(`sync_file_range(SYNC_FILE_RANGE_WRITE)`, on Linux), so the disk works while the rest of the
PATCH arrives and the final sync has little left to wait for. The upload is never held in memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..disk_space import full_disk_is_507, write_all

PART_SUFFIX = ".part"
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait


def _writeback_starter() -> Callable[[int, int, int], None]:
    """`sync_file_range(fd, offset, n, WRITE)` from libc where there is one (Linux); else a
    no-op, and the final `fdatasync` does all of the work. Only a head start: durability
    comes from that `fdatasync`, never from this."""
    if not sys.platform.startswith("linux"):
        return lambda fd, offset, n: None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, n: None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start(fd: int, offset: int, n: int) -> None:
        call(fd, offset, n, _SYNC_FILE_RANGE_WRITE)  # a failure here is the fdatasync's to report

    return start


_start_writeback = _writeback_starter()


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
        _start_writeback(self._fd, self.offset + self.written, len(data))
        self.written += len(data)

    def sync(self) -> None:
        with full_disk_is_507("uploads"):
            os.fdatasync(self._fd)

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
