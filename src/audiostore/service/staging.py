"""Uploads land here first: a temp file, hashed and size-checked while it streams in.

With `on_head` set, the first bytes also decide whether the upload goes to the store while it
arrives (`EarlyPut`): then every chunk is passed on to it as well, by `pump()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ..audio import HEAD_BYTES
from ..errors import PayloadTooLarge

if TYPE_CHECKING:
    from .early_put import EarlyPut

_SEND_AT_LEAST = 1024 * 1024  # bytes gathered before one call into the store's writer
_ABORTS: set[asyncio.Task[None]] = set()  # last-resort aborts scheduled by discard()


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
        # Multipart text fields as they arrive (those before the file are known at its head).
        self.form_fields: dict[str, str] = {}
        self.on_head: Callable[[bytes], Awaitable[EarlyPut | None]] | None = None
        self.early: EarlyPut | None = None
        self._deciding = True
        self._unsent: list[bytes] = []
        self._unsent_bytes = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"The upload is larger than {self.limit} bytes (AUDIOSTORE_MAX_UPLOAD_BYTES)."
            )
        self._hash.update(chunk)
        self._file.write(chunk)
        if self.on_head is not None and (self._deciding or self._sending):
            self._unsent.append(bytes(chunk))
            self._unsent_bytes += len(chunk)

    @property
    def _sending(self) -> bool:
        return self.early is not None and not self.early.failed and not self.early.settled

    async def pump(self, *, final: bool = False) -> None:
        """Decide on an early put once the head has arrived; pass gathered bytes on to it.
        Called by the body reader after each chunk, and with `final=True` at the end."""
        if self.on_head is None:
            return
        if self._deciding and (self.size >= HEAD_BYTES or (final and self.size)):
            self._deciding = False
            head = b"".join(self._unsent)[:HEAD_BYTES]
            self.early = await self.on_head(head)
        if not self._sending:
            self._unsent, self._unsent_bytes = [], 0
            return
        if self._unsent and (final or self._unsent_bytes >= _SEND_AT_LEAST):
            data = b"".join(self._unsent)
            self._unsent, self._unsent_bytes = [], 0
            assert self.early is not None
            await self.early.send(data)

    async def close(self) -> None:
        """Discard, after aborting an early put that did not complete (shielded: this runs on
        failure paths, a cancelled request's included)."""
        if self.early is not None and not self.early.settled:
            with anyio.CancelScope(shield=True):
                await self.early.abort()
        self.discard()

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
        if self.early is not None and not self.early.settled:
            # A path that could not await `close()`: abort in the background, never leak it.
            with contextlib.suppress(RuntimeError):  # no running loop: nothing can be awaited
                task = asyncio.get_running_loop().create_task(self.early.abort())
                _ABORTS.add(task)
                task.add_done_callback(_ABORTS.discard)
        self._unsent = []
        with contextlib.suppress(Exception):
            self._file.close()
        if self._lock_fd >= 0:  # once only: the number may be reused after close
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
