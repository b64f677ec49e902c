"""Where a client reads a blob's bytes from, and whether it may be sent to the bucket itself.

`BlobAccess` is the one place that decides direct (a presigned store URL) against proxied
(a URL of this service, or the bytes streamed through it), and the one place that builds a
`ContentSource`: originals (service/audio.py) and derived blobs (service/renditions.py) are
served the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from ..blobstores import BlobStore
from ..blobstores.base import can_sign, has_local_paths
from ..blobstores.spooling import SPOOL
from ..catalog import AudioRow

REDIRECT_SECONDS = 300  # a redirect is followed at once: its presigned URL need not live long


class ContentFields(TypedDict):
    """The fields of a `ContentSource` that do not depend on where the bytes are read from."""

    row: AudioRow
    content_type: str
    size: int
    etag: str
    key: str


@dataclass(frozen=True, slots=True)
class ContentSource:
    """Where to read an object's bytes from; exactly one of `path`/`redirect_url`/`key` is used."""

    row: AudioRow
    content_type: str
    size: int
    etag: str
    key: str
    path: Path | None = None
    redirect_url: str | None = None
    store: BlobStore | None = field(default=None, repr=False)


class BlobAccess:
    """How clients reach the blobs of one store (`AUDIOSTORE_SIGNED_URLS`)."""

    def __init__(self, store: BlobStore, *, signed_urls: str) -> None:
        self.store = store
        # "direct" means nothing to a store that cannot presign (local disk): proxied then.
        self.direct = signed_urls == "direct" and can_sign(store)

    def presigns(self, location: str) -> bool:
        """Whether a blob at `location` is handed out as a presigned store URL. A spooled
        blob is not in the bucket yet."""
        return self.direct and location != SPOOL

    async def presigned_url(self, key: str, *, seconds: int, filename: str) -> str:
        store = self.store
        if not can_sign(store):
            raise RuntimeError("presigned_url called on a store that cannot presign")
        return await store.sign_get(key, expires_in=seconds, filename=filename)

    async def presigned_urls(self, keys: Sequence[str], *, seconds: int) -> Sequence[str]:
        """`presigned_url` for many keys of one lifetime, in one store call."""
        store = self.store
        if not can_sign(store):
            raise RuntimeError("presigned_urls called on a store that cannot presign")
        return await store.sign_get_many(keys, expires_in=seconds)

    async def source(
        self, common: ContentFields, *, allow_redirect: bool, local_path: Path | None = None
    ) -> ContentSource:
        """The bytes from `local_path` when given (a spooled copy), else from the store's own
        file, a redirect to the bucket (if allowed and direct), or streamed from the store."""
        if local_path is not None:
            return ContentSource(**common, path=local_path)
        if has_local_paths(self.store):
            return ContentSource(**common, path=self.store.local_path(common["key"]))
        if allow_redirect and self.direct:
            url = await self.presigned_url(
                common["key"], seconds=REDIRECT_SECONDS, filename=common["row"].name
            )
            return ContentSource(**common, redirect_url=url)
        return ContentSource(**common, store=self.store)
