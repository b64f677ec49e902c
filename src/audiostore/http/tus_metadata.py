"""tus `Upload-Metadata`: comma-separated `key base64value` pairs, decoded to text.

The keys an upload takes are those of `POST /v1/audio` (name, collection, ttl_seconds,
expires_at, metadata, text, voice_id, owner), plus the hints tus clients send by themselves
(tus-js-client's and Uppy's `filename`, `filetype`, `type`, `relativePath`): `filename`
names the file when `name` is not given; the others are hints and, like a declared
Content-Type, never trusted. Any other key is a 422, not silently dropped.
"""

from __future__ import annotations

import base64
import binascii

from ..errors import BadRequest, ValidationFailed

CLIENT_HINTS = ("filename", "filetype", "type", "relativePath")
MAX_METADATA_BYTES = 64 * 1024


def parse_upload_metadata(header: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    if header is None or not header.strip():
        return {}
    if len(header) > MAX_METADATA_BYTES:
        raise BadRequest(f"Upload-Metadata is longer than {MAX_METADATA_BYTES} bytes.")
    values: dict[str, str] = {}
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not key or key in values:
            raise BadRequest("Upload-Metadata needs unique, non-empty keys (`key base64value`, ...).")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"Upload-Metadata value of {key!r} is not Base64 of UTF-8 text.") from exc
    unknown = sorted(set(values) - set(allowed) - set(CLIENT_HINTS))
    if unknown:
        raise ValidationFailed(
            f"Unknown Upload-Metadata key(s): {', '.join(unknown)}. An upload takes "
            f"{', '.join(allowed)} (and the hints {', '.join(CLIENT_HINTS)}); put facts of your "
            "own in `metadata` (a JSON object)."
        )
    return values
