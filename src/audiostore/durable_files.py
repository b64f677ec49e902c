"""A file on local disk that survives a power loss: its bytes, and the name it is found by.

A write or a rename is only in the page cache until the kernel writes it back; with delayed
allocation (ext4, xfs) a file renamed into place can come back after a power cut empty or
short. What a crash must not lose is made durable with `fdatasync` (the file's bytes and its
size) and an `fsync` of each directory whose entries changed (the name).

`start_writeback` is only a head start: a writer calls it after each write so that the disk
drains the file while the rest arrives, and the final `fdatasync` waits for the tail alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["start_writeback", "sync_dirs_up_to", "sync_file_data"]

_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait


def _writeback_starter() -> Callable[[int, int, int], None]:
    """`sync_file_range(fd, offset, n, WRITE)` from libc where there is one (Linux); else a
    no-op, and the final `fdatasync` does all of the work. Durability comes from that
    `fdatasync`, never from this."""
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


start_writeback = _writeback_starter()


def sync_file_data(path: Path) -> None:
    """Wait until the bytes of the file at `path` (and its size) are on the disk. A read-only
    descriptor is enough: the sync is of the inode, whichever name or descriptor reached it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def sync_dirs_up_to(directory: Path, root: Path) -> None:
    """`fsync` `directory` and each of its parents up to `root` (inclusive), so that a name
    made in any of them (a file renamed in, a directory `mkdir` made for it) is on the disk.
    A directory whose entries did not change is cheap to sync: it has nothing to write."""
    current = directory
    while True:
        fd = os.open(current, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if current == root or not current.is_relative_to(root):
            return
        current = current.parent
