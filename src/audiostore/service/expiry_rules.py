"""Expiry rules beyond an object's own `expires_at`: per-collection defaults
(`AUDIOSTORE_COLLECTION_TTLS=tts=24h,scratch=1h`), and signed URLs that never outlive the
object they point at (a presigned S3 URL cannot be revoked, so it must end with the object)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol

from ..settings import IngestSettings


class Expiring(Protocol):
    """An object with an expiry (a catalogue row, or the part of it a batch reads)."""

    @property
    def expires_at(self) -> datetime | None: ...


def collection_default_expiry(settings: IngestSettings, collection: str, now: datetime) -> datetime | None:
    """When an upload to `collection` that names no expiry of its own expires, or None."""
    seconds = settings.collection_ttls.get(collection)
    return now + timedelta(seconds=seconds) if seconds else None


def url_lifetime_within_expiry(row: Expiring, seconds: int, now: datetime) -> int:
    """`seconds`, shortened so a signed URL expires no later than its object does."""
    if row.expires_at is None:
        return seconds
    left = math.ceil((row.expires_at - now).total_seconds())
    return max(1, min(seconds, left))
