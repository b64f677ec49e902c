"""A remote primary store with a local fallback spool (`AUDIOSTORE_FALLBACK=spool`).

When the primary (S3) cannot be reached, `put_file` keeps the blob in a `LocalBlobStore`
under `{data_dir}/spool` and says so (it returns `"spool"`); the service records that on the
row, reads are served from the spool, and the `drain_spool` job moves the blob to the primary
when it answers again. The spool is on this machine's disk, so nothing is lost across restarts.
Deletes go to both places, so a spooled blob never outlives its row.

Example:
    ```py
    store = SpoolingBlobStore(S3BlobStore(bucket="audio"), LocalBlobStore(Path("data/spool")))
    where = await store.put_file("a/b/2026-01-01/x.wav", Path("/tmp/x"), content_type="audio/wav")
    # where == "primary", or "spool" while the bucket is down
    ```
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from prometheus_client import Counter

from ..metrics import REGISTRY
from .base import (
    BlobMeta, BlobNotFound, BlobStore, BlobStoreUnavailable, BlobWriter, SignCapableStore,
    StreamingPutStore,
)
from .local import LocalBlobStore

log = logging.getLogger(__name__)

PRIMARY, SPOOL = "primary", "spool"

SPOOLED_UPLOADS = Counter(
    "audiostore_spooled_uploads", "Uploads kept in the local spool because the primary store "
    "could not be reached.", registry=REGISTRY,
)

# After a failed put, go straight to the spool for a moment instead of making every upload
# wait for the primary's connect timeout and retries.
_PRIMARY_COOLDOWN_SECONDS = 5.0


class SpoolingBlobStore:
    """`primary` for everything; `spool` for uploads the primary refused."""

    def __init__(self, primary: BlobStore, spool: LocalBlobStore) -> None:
        self.primary = primary
        self.spool = spool
        self.kind = primary.kind
        self._primary_down_until = 0.0

    def spooled_path(self, key: str) -> Path | None:
        """The spool file holding `key`, if the spool has it."""
        try:
            path = self.spool.local_path(key)
        except BlobNotFound:
            return None
        return path if path.is_file() else None

    def open_writer(self, key: str, *, content_type: str) -> BlobWriter:
        """The primary's streaming writer. While the primary is known to be down this refuses,
        and the upload goes to `put_file` (and so to the spool) once it has fully arrived."""
        if time.monotonic() < self._primary_down_until or not isinstance(self.primary, StreamingPutStore):
            raise BlobStoreUnavailable("the primary store is down or cannot stream")
        return _WatchedWriter(self.primary.open_writer(key, content_type=content_type), self)

    def primary_failed(self) -> None:
        """The primary refused or missed its deadline: send uploads to the spool for a moment,
        so the ones behind do not each wait out the same deadline."""
        self._primary_down_until = time.monotonic() + _PRIMARY_COOLDOWN_SECONDS

    async def put_file(self, key: str, path: Path, *, content_type: str) -> str:
        """Store the blob; returns where it went: `"primary"` or `"spool"`."""
        if time.monotonic() >= self._primary_down_until:
            try:
                await self.primary.put_file(key, path, content_type=content_type)
                return PRIMARY
            except FileNotFoundError:
                raise
            except Exception as exc:  # unreachable, refused, 5xx, past its deadline: the spool takes it
                self.primary_failed()
                log.warning("primary store refused %s, spooling it locally: %s", key, exc)
        await self.spool.put_file(key, path, content_type=content_type)
        SPOOLED_UPLOADS.inc()
        return SPOOL

    @property
    def spooling_now(self) -> bool:
        """Whether new uploads go to the spool (the primary refused one a moment ago)."""
        return time.monotonic() < self._primary_down_until

    def primary_answered(self) -> None:
        """The primary took a write again (the drain job says so): stop skipping it."""
        self._primary_down_until = 0.0

    def get_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        store = self.spool if self.spooled_path(key) else self.primary
        return store.get_stream(key, start=start, end=end)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        store = self.spool if self.spooled_path(key) else self.primary
        return await store.get_range(key, start, end)

    async def head(self, key: str) -> BlobMeta:
        if self.spooled_path(key):
            return await self.spool.head(key)
        return await self.primary.head(key)

    async def delete_many(self, keys: list[str]) -> None:
        """Spool first (always reachable), then the primary; a primary failure raises so the
        caller keeps the rows `deleting` and retries."""
        await self.spool.delete_many(keys)
        await self.primary.delete_many(keys)

    def list(self, prefix: str = "") -> AsyncIterator[BlobMeta]:
        """The primary's blobs (the spool is listed by the drain job itself)."""
        return self.primary.list(prefix)

    async def sign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        if not isinstance(self.primary, SignCapableStore):
            raise TypeError(f"{self.primary.kind} store cannot sign URLs")
        return await self.primary.sign_get(key, expires_in=expires_in, filename=filename)

    async def sign_get_many(self, keys: Sequence[str], *, expires_in: int) -> Sequence[str]:
        if not isinstance(self.primary, SignCapableStore):
            raise TypeError(f"{self.primary.kind} store cannot sign URLs")
        return await self.primary.sign_get_many(keys, expires_in=expires_in)

    async def close(self) -> None:
        await self.spool.close()
        await self.primary.close()


class _WatchedWriter:
    """The primary's streaming writer, telling the spooling store when the primary fails, so
    that the upload's own fallback `put_file` goes straight to the spool instead of waiting
    out the primary's deadline a second time."""

    def __init__(self, writer: BlobWriter, owner: SpoolingBlobStore) -> None:
        self.key = writer.key
        self._writer = writer
        self._owner = owner

    async def write(self, data: bytes) -> None:
        try:
            await self._writer.write(data)
        except BlobStoreUnavailable:
            self._owner.primary_failed()
            raise

    async def complete(self) -> None:
        try:
            await self._writer.complete()
        except BlobStoreUnavailable:
            self._owner.primary_failed()
            raise

    async def abort(self) -> None:
        await self._writer.abort()


def spool_of(store: BlobStore) -> LocalBlobStore | None:
    """The fallback spool behind `store`, or None when there is none."""
    return store.spool if isinstance(store, SpoolingBlobStore) else None


def primary_of(store: BlobStore) -> BlobStore:
    """The store blobs finally live in (the store itself when there is no spool)."""
    return store.primary if isinstance(store, SpoolingBlobStore) else store


def spooled_path_of(store: BlobStore, row_location: str, key: str) -> Path | None:
    """Where to read a spooled object's bytes on this machine, or None (read the primary)."""
    if row_location != SPOOL or not isinstance(store, SpoolingBlobStore):
        return None
    return store.spooled_path(key)
