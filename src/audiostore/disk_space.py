"""A full disk (or quota) is the server's condition, never the client's mistake.

Two things every write to local disk needs: a write that cannot pass a short write off as a
whole one (`write_all`), and the recognition of "no space left" in whatever error a library
raised (`is_out_of_space`), so it answers 507 `insufficient_storage` rather than a 500, a 400
"malformed" or a 422 "truncated".
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from .errors import InsufficientStorage

__all__ = ["OUT_OF_SPACE_ERRNOS", "full_disk_is_507", "is_out_of_space", "write_all", "writev_all"]

OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class _RawWriter(Protocol):
    def write(self, data: memoryview, /) -> int | None: ...


def write_all(file: _RawWriter, data: bytes) -> None:
    """Write every byte of `data` to an unbuffered file.

    POSIX lets `write()` take fewer bytes than asked, and a filling disk does exactly that:
    the rest is written in further calls, and a call that takes nothing means no space.
    """
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16  # buffers per writev


def writev_all(fd: int, pieces: list[bytes]) -> int:
    """Write every byte of `pieces`, in order, at `fd`'s position, with as few `writev` calls
    as the kernel allows (none of them copied into one buffer first); the bytes written. A
    short write (a filling disk) goes on from where it stopped, as `write_all` does."""
    total = 0
    views = [memoryview(p) for p in pieces if p]
    while views:
        group = views[:_IOV_MAX]
        written = os.writev(fd, group)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        total += written
        # Drop what went out whole; keep the rest of a piece the kernel took part of.
        done = 0
        while done < len(group) and written >= len(group[done]):
            written -= len(group[done])
            done += 1
        views = views[done:]
        if written:
            views[0] = views[0][written:]
    return total


def is_out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from or while handling, is a full disk or quota
    (PyAV's errors are `OSError`s with the errno too)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, InsufficientStorage):
            return True
        if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def full_disk_is_507(what: str) -> Iterator[None]:
    """Turn a full disk or quota met inside the block into `InsufficientStorage`; `what` names
    the place (it is in the message, for the operator reading a client's report)."""
    try:
        yield
    except InsufficientStorage:
        raise
    except OSError as exc:
        if exc.errno in OUT_OF_SPACE_ERRNOS:
            raise InsufficientStorage(
                f"The server's disk is full ({what}); nothing was stored. Try again later."
            ) from exc
        raise
