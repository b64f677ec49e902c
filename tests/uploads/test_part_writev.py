"""A tus part's batches are written as the pieces the body arrived in (`writev_all`): every
byte in order, however many pieces, and a short write (a file at its size limit, as a filling
disk gives) never passes for a whole one."""

from __future__ import annotations

import errno
import os
import resource
import signal
from pathlib import Path

import pytest

from audiostore.disk_space import writev_all
from audiostore.service.tus_parts import PartWriter, create_part, part_path


def test_pieces_are_written_in_order_more_of_them_than_one_writev_takes(tmp_path: Path) -> None:
    pieces = [bytes([i % 251]) * (1 + i % 7) for i in range(5000)]  # > IOV_MAX (1024)
    pieces.insert(10, b"")  # an empty piece is nothing
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        assert writev_all(fd, pieces) == sum(map(len, pieces))
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(pieces)


def test_a_short_write_is_carried_on_and_its_failure_raised(tmp_path: Path) -> None:
    """RLIMIT_FSIZE cuts the writev mid-piece (a short write, as a disk filling does); the
    next call fails: writev_all must raise, not report the batch written."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (15_000, hard))
        with pytest.raises(OSError) as raised:
            writev_all(fd, [b"a" * 10_000, b"b" * 10_000])
        assert raised.value.errno == errno.EFBIG
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
        os.close(fd)
    assert path.read_bytes() == b"a" * 10_000 + b"b" * 5_000


def test_a_part_writer_cuts_back_to_the_offset_then_appends_the_pieces(tmp_path: Path) -> None:
    create_part(tmp_path, "u1")
    path = part_path(tmp_path, "u1")
    path.write_bytes(b"committed" + b"never-acknowledged")
    part = PartWriter(path, head_bytes=4)
    try:
        assert part.head == b"comm" and part.size_found == 27
        part.begin(9)
        part.write([b"new", b"", b"-bytes"])
        part.write([b"!"])
        assert part.written == 10
    finally:
        part.close()
    assert path.read_bytes() == b"committednew-bytes!"
