"""Blobs as files under one directory, on obstore's `LocalStore`."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore

from ..durable_files import sync_dirs_up_to, sync_file_data
from .base import BlobMeta, BlobNotFound

_CHUNK = 256 * 1024


class LocalBlobStore:
    """Blobs under `root`. `put_file` renames when the source is on the same disk."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._root = str(self.root)
        self._inside = self._root + os.sep
        self._store = LocalStore(self.root, automatic_cleanup=True)

    def local_path(self, key: str) -> Path:
        """The file of `key`, never outside the root: a key that `..` or a leading `/` would
        take out of it is not found.

        Worked out on the string alone (`normpath`), not with `Path.resolve()`: that made one
        `lstat` per path component, eight system calls on every read of a blob. The store
        makes no links of its own (a put is a hard link or a copy renamed into place), and
        the root's own symlinks were resolved once, above."""
        path = os.path.normpath(os.path.join(self._root, key))
        if path != self._root and not path.startswith(self._inside):
            raise BlobNotFound(key)
        return Path(path)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        """Store a copy of `path` (a hard link on the same disk), durably: when this returns,
        the blob's bytes and its name are on the disk, and a power cut cannot leave a ready
        row over an empty or short file. On failure (a full disk raises `OSError`
        ENOSPC/EDQUOT) nothing of the put is left: no partial file, no directory it made."""
        target = self.local_path(key)
        # Copy then atomic rename: a reader never sees a half-written blob.
        partial = target.with_name(target.name + ".partial")
        for attempt in range(3):  # a concurrent delete may remove the emptied directory
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                await anyio.to_thread.run_sync(self._place, path, partial, target)
                return
            except FileNotFoundError:
                if attempt == 2 or not path.exists():
                    raise
            except BaseException:
                with contextlib.suppress(OSError):
                    partial.unlink(missing_ok=True)
                self._prune_empty_dirs(target.parent)
                raise

    def _place(self, source: Path, partial: Path, target: Path) -> None:
        """Link (or copy) `source` to `partial`, sync its bytes, rename it to `target`, then
        sync the directories from `target`'s up to the root (the rename, and any directory
        `mkdir` just made). The link is the source's own inode: its sync is the upload's
        (the staging file started writeback as it arrived, so this waits for the tail)."""
        _copy_file(source, partial)
        sync_file_data(partial)
        os.replace(partial, target)
        try:
            sync_dirs_up_to(target.parent, self.root)
        except BaseException:  # a name not known durable is not a stored blob
            with contextlib.suppress(OSError):
                target.unlink()
            raise

    async def get_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        try:
            file = await anyio.open_file(self.local_path(key), "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        async with file:
            await file.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = await file.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        try:
            return bytes(await obstore.get_range_async(self._store, key, start=start, end=end))
        except (NotFoundError, FileNotFoundError) as exc:
            raise BlobNotFound(key) from exc

    async def head(self, key: str) -> BlobMeta:
        try:
            meta = await obstore.head_async(self._store, key)
        except (NotFoundError, FileNotFoundError) as exc:
            raise BlobNotFound(key) from exc
        return BlobMeta(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])

    async def delete_many(self, keys: list[str]) -> None:
        await anyio.to_thread.run_sync(self._delete_files, keys)

    def _delete_files(self, keys: list[str]) -> None:
        root = str(self.root)
        for key in keys:
            # Most keys of a batch are not here (the fallback spool is usually empty): one
            # lstat rules them out, without `local_path`'s resolve (a syscall per path part).
            if not os.path.lexists(os.path.join(root, key)):
                continue
            with contextlib.suppress(FileNotFoundError, BlobNotFound):
                path = self.local_path(key)
                path.unlink()
                self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, parent: Path) -> None:
        """Drop directories left empty, from `parent` up to (not including) the root."""
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def list(self, prefix: str = "") -> AsyncIterator[BlobMeta]:
        stream = obstore.list(self._store, prefix or None, chunk_size=1000)
        async for batch in stream:
            for meta in batch:
                if meta["path"].endswith(".partial"):
                    continue
                yield BlobMeta(meta["path"], meta["size"], meta["last_modified"])

    async def close(self) -> None:
        return None


def _copy_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # same disk: no copy at all
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        shutil.copyfile(source, target)
