"""Uploads land here first: a temp file, hashed and size-checked while it streams in.

`Ingest` drives it: `write()` each chunk, then `pump()`. Once the first bytes have decided
that the upload goes to the store while it arrives, `forward_to(early_put)` makes every batch
go to that `EarlyPut` as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ..audio import HEAD_BYTES
from ..disk_space import full_disk_is_507, write_all
from ..durable_files import start_writeback
from ..errors import PayloadTooLarge

if TYPE_CHECKING:
    from .early_put import EarlyPut

_BATCH_BYTES = 1024 * 1024  # gathered before one hash-and-write (and one call into the store)
_SYNC_FLUSH_AT = 8 * 1024 * 1024  # a writer that never calls pump() still holds no more
# (a `pumped` staging file never flushes by itself: an early put has to see every batch)
_ABORTS: set[asyncio.Task[None]] = set()  # last-resort aborts scheduled by discard()
_HASH_READ = 4 * 1024 * 1024  # read per hash step of an adopted file without its sha256


class StagedUpload:
    """A temp file under `tmp_dir` that refuses to grow past `limit` bytes.

    Never holds the upload in memory; `discard()` is always safe to call. A full disk is
    `InsufficientStorage` from whichever call met it, and the caller discards the file.
    """

    def __init__(
        self, tmp_dir: Path, limit: int, *, pumped: bool = False,
        limit_source: str = "AUDIOSTORE_MAX_UPLOAD_BYTES", writeback: bool = False,
    ) -> None:
        """`writeback`: the file becomes a local blob (a hard link) that is synced before
        the upload is ready, so each batch starts its writeback as it is written and that
        sync waits for the tail only. Off when the blob goes elsewhere (S3): a temp file
        removed within seconds need never reach the disk."""
        with full_disk_is_507("staging"):
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
        self.path = Path(name)
        self._file: io.FileIO | None = os.fdopen(fd, "wb", buffering=0)  # batches already
        # Held until discard(): the temp-file job (jobs/temp_files.py) removes only files no
        # live upload holds, so a crashed upload's file goes and a running one stays.
        self._lock_fd = os.open(name, os.O_RDONLY)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._hash = hashlib.sha256()
        self._hash_fed = False
        self._digest: str | None = None  # an adopted file's sha256, known before staging
        self.limit = limit
        self.limit_source = limit_source  # named in a 413: the setting, or a client token's bound
        self.size = 0
        self._writeback = writeback
        self._fd = fd  # the writeback's, whatever wraps `_file`
        self._written = 0  # bytes in the file: where the next batch's writeback starts
        self.early: EarlyPut | None = None
        self._pumped = pumped
        self._head = b""
        # Chunks not yet hashed and written: a batch goes out together (to a worker thread for
        # the hash and the file, and to the early put), not one 64 KiB chunk at a time.
        self._batch: list[bytes] = []
        self._batch_bytes = 0

    @classmethod
    def adopt(
        cls, tmp_dir: Path, source: Path, limit: int, *, sha256: str | None = None,
        limit_source: str = "AUDIOSTORE_MAX_UPLOAD_BYTES",
    ) -> StagedUpload:
        """A complete local file as a staged upload, without a second copy: a hard link to it
        in `tmp_dir` (a copy only across filesystems). The caller promises the file does not
        change. `sha256` None: hashed here in one read. Blocking: call it in a worker thread."""
        size = source.stat().st_size
        if size > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes ({limit_source}).")
        self = cls.__new__(cls)
        with full_disk_is_507("staging"):
            tmp_dir.mkdir(parents=True, exist_ok=True)
            path = tmp_dir / f"upload-{uuid.uuid4().hex}.part"
            try:
                os.link(source, path)
            except OSError:  # another filesystem (or one without hard links): copy it once
                shutil.copyfile(source, path)
        self.path = path
        self._file = None
        self._lock_fd = os.open(path, os.O_RDONLY)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._hash = hashlib.sha256()
        self._hash_fed = True
        self._digest = sha256
        self.limit, self.limit_source, self.size = limit, limit_source, size
        self._writeback, self._fd, self._written = False, -1, size
        self.early = None
        self._pumped = True
        self._batch, self._batch_bytes = [], 0
        try:
            with path.open("rb") as f:
                self._head = f.read(HEAD_BYTES)
                if sha256 is None:
                    self._hash.update(self._head)
                    while data := f.read(_HASH_READ):
                        self._hash.update(data)
        except BaseException:
            self.discard()
            raise
        return self

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise RuntimeError("an adopted file is complete: nothing can be written to it")
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"The upload is larger than {self.limit} bytes ({self.limit_source})."
            )
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._batch.append(chunk)
        self._batch_bytes += len(chunk)
        if self._batch_bytes >= _SYNC_FLUSH_AT and not self._pumped:
            self._absorb(self._take_batch())  # a writer that never pumps stays bounded

    @property
    def head(self) -> bytes:
        """The first `HEAD_BYTES` (fewer if the upload is shorter): enough to sniff the format."""
        return self._head

    def forward_to(self, early: EarlyPut) -> None:
        """Send every batch from now on to `early` too; before the first batch has gone out."""
        if self._hash_fed:
            raise RuntimeError("an early put must start before the first batch is written")
        self.early = early

    @property
    def _sending(self) -> bool:
        return self.early is not None and not self.early.failed and not self.early.settled

    def _take_batch(self) -> bytes:
        data = b"".join(self._batch)
        self._batch, self._batch_bytes = [], 0
        return data

    def _absorb(self, data: bytes) -> None:
        """Hash and write a batch (hashlib and the write release the GIL)."""
        self._hash_fed = True
        self._hash.update(data)
        assert self._file is not None  # write() refuses an adopted file
        # Unbuffered: one write() may take only part of a batch (a filling disk does that),
        # and a stored object whose file is shorter than its size and sha256 is corrupt.
        with full_disk_is_507("staging"):
            write_all(self._file, data)
        if self._writeback:
            start_writeback(self._fd, self._written, len(data))
        self._written += len(data)

    async def pump(self, *, final: bool = False) -> None:
        """Hash and write what has gathered, in a worker thread, while the early put (if one
        was started) sends the same bytes on. Called after each chunk, and with `final=True`
        at the end."""
        if not self._batch or (not final and self._batch_bytes < _BATCH_BYTES):
            return
        data = self._take_batch()
        if self._sending:
            assert self.early is not None
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(anyio.to_thread.run_sync, self._absorb, data)
                    tg.start_soon(self.early.send, data)
            except BaseExceptionGroup as group:
                # Only the write can fail (`send` drops the early put on its own errors): raise
                # that error itself, so that a full disk stays a 507 for the body reader.
                if len(group.exceptions) == 1:
                    raise group.exceptions[0]  # noqa: B904 - the group is its context
                raise
        else:
            await anyio.to_thread.run_sync(self._absorb, data)

    async def close(self) -> None:
        """Discard, after aborting an early put that did not complete (shielded: this runs on
        failure paths, a cancelled request's included)."""
        if self.early is not None and not self.early.settled:
            with anyio.CancelScope(shield=True):
                await self.early.abort()
        self.discard()

    def finish(self) -> None:
        if self._batch:
            if self._sending:  # those bytes would never reach the early put's blob
                raise RuntimeError("pump(final=True) must run before finish() during an early put")
            self._absorb(self._take_batch())
        if self._file is None:  # adopted: complete already
            return
        with full_disk_is_507("staging"):
            self._file.close()  # some filesystems (NFS, quotas) report a failed write here

    @property
    def sha256(self) -> str:
        return self._digest if self._digest is not None else self._hash.hexdigest()

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
        self._batch = []
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        if self._lock_fd >= 0:  # once only: the number may be reused after close
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
