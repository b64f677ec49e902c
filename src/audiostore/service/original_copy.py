"""A local file with an object's original bytes, for the work that decodes it after the
upload (renditions, waveforms, the loudness measurement from the store)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from ..blobstores import BlobNotFound, BlobStore, LocalPathStore
from ..catalog import AudioRow
from ..errors import NotFound
from .scratch_dir import held_scratch_dir


class OriginalCopies:
    def __init__(self, store: BlobStore, tmp_dir: Path) -> None:
        self.store = store
        self.tmp_dir = tmp_dir

    @asynccontextmanager
    async def in_scratch(self, row: AudioRow) -> AsyncIterator[tuple[Path, Path]]:
        """A scratch directory under the data dir holding a local copy of the original;
        removed, with whatever was made in it, on exit."""
        with held_scratch_dir(self.tmp_dir) as tmp:
            yield tmp, await self._fetch(row, tmp)

    async def _fetch(self, row: AudioRow, tmp: Path) -> Path:
        """A local file with the original's bytes: the store's own file, or a streamed copy."""
        if isinstance(self.store, LocalPathStore):
            # A hard link in the scratch dir (same disk: both are under the data dir), so a
            # delete that removes the blob meanwhile cannot pull the file from under the decoder.
            path, linked = self.store.local_path(row.key), tmp / f"source.{row.format}"
            try:
                os.link(path, linked)
            except FileNotFoundError as exc:
                raise NotFound("The audio's bytes are missing from storage.") from exc
            except OSError:  # another file system (or no links): read it in place
                return path
            return linked
        dst = tmp / f"source.{row.format}"
        try:
            async with await anyio.open_file(dst, "wb") as f:
                async for chunk in self.store.get_stream(row.key):
                    await f.write(chunk)
        except BlobNotFound as exc:  # deleted while we began to render it
            raise NotFound("The audio's bytes are missing from storage.") from exc
        return dst
