"""A list page (`AudioList`) written to JSON from the rows, without a model an item.

Validating an `AudioObject` of 27 fields and a `RenditionInfo` for each rendition, then
serialising the page, was most of a list page's CPU time (50 items). The rows come from the
catalogue, already typed; what validation did to them was the lax coercions below (an int
duration or gain becomes a float, a missing location `primary`), done here the same way.
`tests/http/test_listing.py` checks the bytes equal the models' for rows of every shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json

from ..catalog import AudioRow
from ..catalog.models import DerivedBlobRow
from ..service import SignedUrl

__all__ = ["audio_list_json"]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def rendition_item(d: DerivedBlobRow) -> dict[str, Any]:
    """`RenditionInfo.from_derived(d)`, as the dict it serialises from."""
    p = d.params or {}
    return {
        "format": d.format, "content_type": d.content_type, "size": int(d.size),
        "duration": _float(d.duration), "bitrate": _int(p.get("bitrate")),
        "sample_rate": int(p.get("sample_rate", 0)), "channels": int(p.get("channels", 0)),
        "gain_db": float(p.get("gain_db", 0.0)), "start": _float(p.get("start")),
        "end": _float(p.get("end")), "created_at": d.created_at,
    }


# The row attributes an item is made of.
_AUDIO_FIELDS = frozenset((
    "id", "owner", "collection", "name", "key", "content_type", "format", "codec", "duration",
    "sample_rate", "channels", "bitrate", "size", "sha256", "meta", "text", "voice_id",
    "created_at", "expires_at", "location", "loudness_lufs", "true_peak_dbtp", "analysis_due_at",
    "analysis_error",
))


def _values(row: AudioRow) -> Mapping[str, Any]:
    """The row's column values. A mapped attribute costs ~0.3 us to read through its
    descriptor, and a page reads 27 of them from 50 rows: loaded rows hold every value in
    their `__dict__`; a row missing one (expired, deferred) is read the ORM's way."""
    values = row.__dict__
    return values if _AUDIO_FIELDS <= values.keys() else {k: getattr(row, k) for k in _AUDIO_FIELDS}


def audio_item(row: AudioRow, signed: SignedUrl | None, renditions: Sequence[DerivedBlobRow]) -> dict[str, Any]:
    """`AudioObject.from_row(row, signed)` with its renditions, as the dict it serialises from."""
    v = _values(row)
    return {
        "id": v["id"], "owner": v["owner"], "collection": v["collection"], "name": v["name"],
        "key": v["key"], "content_type": v["content_type"], "format": v["format"], "codec": v["codec"],
        "duration": float(v["duration"]), "sample_rate": int(v["sample_rate"]),
        "channels": int(v["channels"]), "bitrate": _int(v["bitrate"]), "size": int(v["size"]),
        "sha256": v["sha256"], "metadata": v["meta"] or {}, "text": v["text"],
        "voice_id": v["voice_id"], "created_at": v["created_at"], "expires_at": v["expires_at"],
        "location": v["location"] or "primary",
        "url": signed.url if signed else None,
        "url_expires_at": signed.expires_at if signed else None,
        "loudness_lufs": _float(v["loudness_lufs"]),
        "true_peak_dbtp": _float(v["true_peak_dbtp"]),
        "analysis": "pending" if v["analysis_due_at"] is not None else "failed" if v["analysis_error"] else "done",
        "renditions": [rendition_item(d) for d in renditions],
    }


def audio_list_json(
    rows: Sequence[AudioRow], signed: Sequence[SignedUrl | None],
    renditions: dict[str, list[DerivedBlobRow]], next_cursor: str | None,
) -> bytes:
    items = [audio_item(r, s, renditions[r.id]) for r, s in zip(rows, signed, strict=True)]
    return to_json({"items": items, "next_cursor": next_cursor})
