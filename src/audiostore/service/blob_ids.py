"""Which object a blob belongs to: every key holds its object's id (the key template must
contain `{id}`; rendition keys extend the original's), so the id is read from the key."""

from __future__ import annotations

import re

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def audio_id_in_key(key: str) -> str | None:
    """The last UUID in `key` (the object's id), or None for a key audiostore never makes."""
    found = _UUID.findall(key.lower())
    return found[-1] if found else None
