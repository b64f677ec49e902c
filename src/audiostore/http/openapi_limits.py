"""The limits the service enforces, written into /openapi.json.

The service checks every rule itself (with the catalogue's error codes); this module only
says them in the document, from the same constants and settings, so a client generator or a
fuzzer knows the bounds: lengths, sizes, ranges, enums, patterns. Rules that depend on a
setting (URL lifetimes, TTS text length, queue size) are filled in when the app is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic.config import JsonDict

from ..audio.transcode import FORMATS, MAX_BITRATE, MAX_RATE, MIN_BITRATE, MIN_RATE
from ..blob_keys import MAX_NAME_LENGTH
from ..service.audio import MAX_BATCH_URLS, MAX_TEXT_CHARS, MAX_TTL_SECONDS, MAX_VOICE_ID_CHARS
from ..service.idempotent_upload import MAX_KEY_LENGTH
from ..service.metadata_field import MAX_METADATA_BYTES
from ..service.queues import MODES
from ..settings import Settings

__all__ = ["MAX_BITRATE", "MIN_BITRATE", "document_limits"]

RENDITION_FORMATS = [*FORMATS, "m4a"]
MAX_CHANNELS = max(info.max_channels for info in FORMATS.values())
KEY_PART_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@=+-]{0,127}$"  # blob_keys._KEY_PART, for queue names
IDEMPOTENCY_KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"  # printable ASCII, no space

TTL: JsonDict = {"minimum": 1, "maximum": MAX_TTL_SECONDS}
MODE: JsonDict = {"enum": [*MODES]}
FORMAT: JsonDict = {"enum": [*RENDITION_FORMATS]}
BITRATE: JsonDict = {"anyOf": [{"type": "integer", "minimum": MIN_BITRATE, "maximum": MAX_BITRATE},
                     {"type": "string", "pattern": r"^[0-9]{1,6}k?$"}]}
SAMPLE_RATE: JsonDict = {"minimum": MIN_RATE, "maximum": MAX_RATE}
CHANNELS: JsonDict = {"minimum": 1, "maximum": MAX_CHANNELS}
NAME: JsonDict = {"maxLength": MAX_NAME_LENGTH}
IDS: JsonDict = {"minItems": 1, "maxItems": MAX_BATCH_URLS}
UPLOAD_FIELD_LIMITS: dict[str, dict[str, Any]] = {
    "name": {"maxLength": MAX_NAME_LENGTH},
    "collection": {"pattern": KEY_PART_PATTERN},
    "owner": {"pattern": KEY_PART_PATTERN},
    "ttl_seconds": {"pattern": r"^[1-9][0-9]{0,9}$"},
    "expires_at": {"format": "date-time"},
    "metadata": {"maxLength": MAX_METADATA_BYTES, "description": "A JSON object."},
    "text": {"maxLength": MAX_TEXT_CHARS},
    "voice_id": {"maxLength": MAX_VOICE_ID_CHARS},
}
# The same fields in the query: a URL has limits of its own (granian answers 414 past about
# 400 KB of request head), so long values belong in the form.
MAX_QUERY_FIELD_CHARS = 4096
UPLOAD_QUERY_LIMITS = {
    name: {**limits, "maxLength": min(limits.get("maxLength", MAX_QUERY_FIELD_CHARS),
                                      MAX_QUERY_FIELD_CHARS)}
    for name, limits in UPLOAD_FIELD_LIMITS.items()
}


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _bound(schema: dict[str, Any], **limits: Any) -> None:
    """Set limits on an integer/string schema, or on the non-null branch of an `anyOf`."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") != "null":
            branch.update(limits)


def document_limits(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Fill the setting-dependent bounds into a generated OpenAPI document (in place)."""
    url_life = {"minimum": 1, "maximum": settings.url_max_expiry}
    for node in _walk(doc):
        props = node.get("properties")
        if isinstance(props, dict) and "expires_in" in props:
            _bound(props["expires_in"], **url_life)
        if node.get("in") == "query" and node.get("name") == "expires_in":
            _bound(node["schema"], **url_life)
    schemas = doc.get("components", {}).get("schemas", {})
    if "TtsBody" in schemas:
        text = schemas["TtsBody"]["properties"]["text"]
        _bound(text, minLength=1, maxLength=settings.tts_max_text_chars)
    if "QueueBody" in schemas:
        schemas["QueueBody"]["properties"]["audio_ids"]["maxItems"] = settings.queue_max_items
    return doc
