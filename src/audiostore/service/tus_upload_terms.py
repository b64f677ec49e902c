"""What travels with a resumable upload's row between its PATCHes: the bounds that limit it
(a signed upload URL's or a client token's) and the upload's fields, as JSON.

The ingest at the end runs without the request that created the upload, so both are stored
with the row and read back when the last byte is in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import UnsupportedMediaType
from .format_bounds import SET_BY_BOTH, SET_BY_CLIENT_TOKEN, SET_BY_UPLOAD_URL
from .principal import Principal
from .upload_fields import UploadFields


@dataclass(frozen=True, slots=True)
class UploadBounds:
    """Limits a signed upload URL puts on the upload it authorises (none for an API key)."""

    max_bytes: int | None = None
    formats: tuple[str, ...] = ()
    formats_set_by: str = SET_BY_UPLOAD_URL  # named in a 415 (service/format_bounds.py)

    def to_json(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "formats": list(self.formats),
                "formats_set_by": self.formats_set_by}

    def within_token(self, principal: Principal, server_limit: int) -> UploadBounds:
        """These bounds narrowed by a client token's `max_bytes` and `formats`. They travel
        with the upload's row, so a PATCH that gives a deferred length and the ingest at the
        end (which runs without the token) still apply them."""
        grant = principal.grant
        if grant is None:
            return self
        limit = principal.upload_limit(server_limit)[0]
        max_bytes = min(self.max_bytes, limit) if self.max_bytes else (limit if limit < server_limit else None)
        formats, set_by = self.formats, self.formats_set_by
        if grant.formats is not None:
            formats = tuple(sorted(f for f in (self.formats or grant.formats) if f in grant.formats))
            set_by = SET_BY_BOTH if self.formats else SET_BY_CLIENT_TOKEN
            if not formats:
                raise UnsupportedMediaType("No format is allowed by both this upload URL and the client token.")
        return UploadBounds(max_bytes=max_bytes, formats=formats, formats_set_by=set_by)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadBounds:
        return cls(max_bytes=data.get("max_bytes"), formats=tuple(data.get("formats") or ()),
                   formats_set_by=data.get("formats_set_by") or SET_BY_UPLOAD_URL)


def fields_to_json(fields: UploadFields, filename: str | None) -> dict[str, Any]:
    values = dataclasses.asdict(fields)
    if fields.expires_at is not None:
        values["expires_at"] = fields.expires_at.isoformat()
    return {"fields": values, "filename": filename}


def fields_from_json(data: dict[str, Any]) -> tuple[UploadFields, str | None]:
    values = dict(data.get("fields") or {})
    if values.get("expires_at"):
        values["expires_at"] = datetime.fromisoformat(values["expires_at"])
    return UploadFields(**values), data.get("filename")
