"""The `metadata` a client attaches to an object: a JSON object of bounded size."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidMetadata

MAX_METADATA_BYTES = 16 * 1024


def parse_metadata(raw: str | None) -> dict[str, Any] | None:
    """Metadata arrives as a JSON object in a form field or body; anything else is a 422."""
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidMetadata(f"metadata is not valid JSON: {exc.msg}.") from exc
    return check_metadata(value)


def check_metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMetadata()
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise InvalidMetadata(f"metadata may hold at most {MAX_METADATA_BYTES} bytes of JSON.")
    return value
