"""The `UploadSource` of a signed upload URL's PUT or POST: the request's body, held to the
URL's terms.

The URL's signed terms are the upload's fields (a form may carry only its `file`); its
`max_bytes` stops the body as soon as it passes them (413, nothing stored); its formats are
checked on the first bytes (415 before the rest is read). The ingest then sniffs and probes
the whole file as for any upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..audio import HEAD_BYTES, sniff
from ..errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from ..service import UploadFields
from ..service.format_bounds import SET_BY_UPLOAD_URL, not_among
from ..service.upload_grants import UploadGrant
from .upload_body import HttpUploadSource

# A leading ID3 tag may be longer than the head (cover art); the formats that may follow one.
_AFTER_ID3 = ("mp3", "aac", "flac")


def _check_head(head: bytes, formats: tuple[str, ...]) -> None:
    if head[:3] == b"ID3":
        if not set(_AFTER_ID3) & set(formats):
            raise UnsupportedMediaType(f"This upload URL accepts {', '.join(formats)} only.")
        return
    found = sniff(head, b"").format
    if found not in formats and not (found == "ogg" and "opus" in formats):
        raise not_among(found, formats, SET_BY_UPLOAD_URL)  # the URL's terms are its formats


class GrantedUploadSource:
    def __init__(self, inner: HttpUploadSource, grant: UploadGrant) -> None:
        self._inner = inner
        self._grant = grant
        if inner.declared_length is not None and inner.declared_length > grant.max_bytes + 64 * 1024:
            raise PayloadTooLarge(f"This upload URL takes at most {grant.max_bytes} bytes.")

    @property
    def filename(self) -> str | None:
        return self._inner.filename

    @property
    def declared_content_type(self) -> str | None:
        return self._inner.declared_content_type

    @property
    def declared_length(self) -> int | None:
        return self._inner.declared_length

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        head = b""
        checked = False
        async for chunk in self._inner.chunks():
            size += len(chunk)
            if size > self._grant.max_bytes:
                raise PayloadTooLarge(f"This upload URL takes at most {self._grant.max_bytes} bytes.")
            if not checked:
                head += chunk[: HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:
                    _check_head(head, self._grant.formats)
                    checked = True
            yield chunk
        if not checked and head:
            _check_head(head, self._grant.formats)

    def _fields(self) -> UploadFields:
        return UploadFields(collection=self._grant.collection, name=self._grant.name,
                            ttl_seconds=self._grant.ttl_seconds)

    def head_fields(self) -> UploadFields:
        return self._fields()

    def fields(self) -> UploadFields:
        sent = self._inner.fields()
        if sent != UploadFields():
            raise ValidationFailed("A signed upload URL fixes the upload's fields; send only the file.")
        return self._fields()
