"""The opaque `cursor` of a listing: the last id of a page, so the next page is a keyset
query (`id < last`) that costs the same at row 10 and at row 1,000,000."""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import InvalidCursor


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["before"]
        if not isinstance(value, str) or len(value) != 36:
            raise ValueError(value)
        return value
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidCursor() from exc
