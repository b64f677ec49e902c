"""What `Ingest.store` reads an upload from: its bytes, its name, and what the client said.

Every way an upload comes in (a multipart or raw HTTP body, a file assembled by a resumable
upload, a file the service made itself such as speech) is one `UploadSource`; the rules of
storing it are written once, in `Ingest`.

Fields come at two moments. A multipart form may put text fields before and after the file:
`head_fields()` is what is known when the file's first bytes have arrived (it decides the
early put's blob key, so it must not raise), and `fields()` is the whole set once `chunks()`
is exhausted (it raises the 4xx for a field that is wrong).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio

from .upload_fields import UploadFields

FILE_CHUNK = 1024 * 1024  # read from a local file per call: one staging batch


class UploadSource(Protocol):
    """One upload's bytes and what came with them."""

    @property
    def filename(self) -> str | None:
        """The client's file name (a default for the object's name), once the bytes begin."""
        ...

    @property
    def declared_content_type(self) -> str | None: ...

    @property
    def declared_length(self) -> int | None:
        """The body's length as announced before it arrives (None: unknown)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, in order; raises the 4xx of a body that turns out malformed."""
        ...

    def head_fields(self) -> UploadFields | None:
        """The fields known so far, or None when they do not parse yet."""
        ...

    def fields(self) -> UploadFields:
        """Every field, after `chunks()` has ended."""
        ...


class FileUploadSource:
    """An upload from a local file of known length (speech the service made, an assembled
    resumable upload). The file stays the caller's: it is read, never moved or removed.

    `complete=True` says the file is finished and will not change while it is stored, so
    staging may adopt it (a hard link in the staging directory) instead of copying it; a
    `sha256` known already (hashed as its bytes arrived) then spares the one read that hashes
    it. Adopted or not, the same checks (size, sniff, full decode) run on it."""

    def __init__(
        self, path: Path, *, fields: UploadFields | None = None, filename: str | None = None,
        content_type: str | None = None, complete: bool = False, sha256: str | None = None,
    ) -> None:
        self.path = path
        self.complete = complete
        self.sha256 = sha256
        self.filename = filename if filename is not None else path.name
        self.declared_content_type = content_type
        self.declared_length: int | None = path.stat().st_size
        self._fields = fields or UploadFields()

    async def chunks(self) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self.path, "rb") as f:
            while chunk := await f.read(FILE_CHUNK):
                yield chunk

    def head_fields(self) -> UploadFields:
        return self._fields

    def fields(self) -> UploadFields:
        return self._fields
