"""Default lifetimes per collection (`AUDIOSTORE_COLLECTION_TTLS=tts=24h,scratch=1h`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..settings import Settings


def collection_default_expiry(settings: Settings, collection: str, now: datetime) -> datetime | None:
    """When an upload to `collection` that names no expiry of its own expires, or None."""
    seconds = settings.collection_ttls.get(collection)
    return now + timedelta(seconds=seconds) if seconds else None
