"""What a client may say about an upload besides its bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UploadFields:
    """The facts an upload is stored with; None means the default."""

    name: str | None = None
    collection: str | None = None
    ttl_seconds: int | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    text: str | None = None
    voice_id: str | None = None
    owner: str | None = None  # admins only
