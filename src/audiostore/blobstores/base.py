"""The blob store protocol: a handful of verbs over keys.

Implementations live beside this module (`local.py`, `s3.py`); one contract test suite
(`tests/blobstores/test_contract.py`) runs against each. Capabilities are types:
a store that can hand out its own presigned URLs implements `SignCapableStore`; a store whose
blobs are files on this machine implements `LocalPathStore`, so the HTTP layer can serve them
with sendfile.

Example:
    ```py
    store = LocalBlobStore(Path("data/blobs"))
    await store.put_file("alice/default/2026-01-01/x.wav", Path("/tmp/x"), content_type="audio/wav")
    meta = await store.head("alice/default/2026-01-01/x.wav")
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeGuard, runtime_checkable


@dataclass(frozen=True, slots=True)
class BlobMeta:
    key: str
    size: int
    last_modified: datetime | None = None


class BlobNotFound(Exception):
    """The key does not exist in the store."""


class BlobStoreUnavailable(Exception):
    """The store could not be reached or refused the call (network, auth, 5xx)."""


class BlobStoreAccessDenied(BlobStoreUnavailable):
    """The store answered but refused the credentials or the permission (S3's 403): a
    configuration problem rather than an outage, so checks can name the setting to fix."""


@runtime_checkable
class BlobStore(Protocol):
    kind: str

    async def put_file(self, key: str, path: Path, *, content_type: str) -> str | None:
        """Store the file at `path` under `key`, streaming it (never whole in memory).

        A store with one place returns None; one with more (the spooling store) returns
        where the blob went, which the catalogue row records."""

    def get_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream bytes `[start, end)` of a blob (`end=None`: to the end)."""

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of a blob, in memory: for small reads only."""

    async def head(self, key: str) -> BlobMeta:
        """Size and time of a blob; raises `BlobNotFound`."""

    async def delete_many(self, keys: list[str]) -> None:
        """Delete keys in as few calls as the store allows; missing keys are not errors."""

    def list(self, prefix: str = "") -> AsyncIterator[BlobMeta]:
        """Every blob under `prefix`."""

    async def close(self) -> None: ...


@runtime_checkable
class LocalPathStore(Protocol):
    def local_path(self, key: str) -> Path:
        """The file holding `key` on this machine (may not exist)."""


class BlobWriter(Protocol):
    """A blob being written while its bytes still arrive. Nothing is visible under the key
    until `complete()`; `abort()` leaves nothing behind (S3: the multipart upload is aborted)."""

    key: str

    async def write(self, data: bytes) -> None: ...
    async def complete(self) -> None: ...
    async def abort(self) -> None: ...


@runtime_checkable
class StreamingPutStore(Protocol):
    def open_writer(self, key: str, *, content_type: str) -> BlobWriter:
        """Start writing `key` piece by piece (S3: a multipart upload, parts sent as they fill)."""


@runtime_checkable
class SignCapableStore(Protocol):
    async def sign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A presigned GET URL for `key`, valid `expires_in` seconds."""

    async def sign_get_many(self, keys: Sequence[str], *, expires_in: int) -> Sequence[str]:
        """`sign_get` for each of `keys`, in order, in one call (a batch of URLs)."""


_CAN_SIGN: dict[type, bool] = {}
_HAS_LOCAL_PATHS: dict[type, bool] = {}


def can_sign(store: object) -> TypeGuard[SignCapableStore]:
    """`isinstance(store, SignCapableStore)`, answered once per store type: on Python 3.11 a
    runtime Protocol check costs microseconds, and signing URLs is a hot path."""
    kind = type(store)
    answer = _CAN_SIGN.get(kind)
    if answer is None:
        answer = _CAN_SIGN[kind] = isinstance(store, SignCapableStore)
    return answer


def has_local_paths(store: object) -> TypeGuard[LocalPathStore]:
    """`isinstance(store, LocalPathStore)`, answered once per store type, like `can_sign`:
    every read of a blob asks it."""
    kind = type(store)
    answer = _HAS_LOCAL_PATHS.get(kind)
    if answer is None:
        answer = _HAS_LOCAL_PATHS[kind] = isinstance(store, LocalPathStore)
    return answer
