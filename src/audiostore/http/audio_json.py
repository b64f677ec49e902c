"""A list page (`AudioList`) written to JSON from the rows, without a model an item.

Validating an `AudioObject` of 27 fields and a `RenditionInfo` for each rendition, then
serialising the page, was most of a list page's CPU time (50 items). The rows come from the
catalogue, already typed; what validation did to them was the lax coercions below (an int
duration or gain becomes a float, a missing location `primary`), done here the same way.
`tests/http/test_listing.py` checks the bytes equal the models' for rows of every shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json

from ..catalog import AudioRow
from ..catalog.models import DerivedBlobRow
from ..service import SignedUrl
from .schemas import analysis_state

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


def audio_item(row: AudioRow, signed: SignedUrl | None, renditions: Sequence[DerivedBlobRow]) -> dict[str, Any]:
    """`AudioObject.from_row(row, signed)` with its renditions, as the dict it serialises from."""
    return {
        "id": row.id, "owner": row.owner, "collection": row.collection, "name": row.name,
        "key": row.key, "content_type": row.content_type, "format": row.format, "codec": row.codec,
        "duration": float(row.duration), "sample_rate": int(row.sample_rate),
        "channels": int(row.channels), "bitrate": _int(row.bitrate), "size": int(row.size),
        "sha256": row.sha256, "metadata": row.meta or {}, "text": row.text,
        "voice_id": row.voice_id, "created_at": row.created_at, "expires_at": row.expires_at,
        "location": row.location or "primary",
        "url": signed.url if signed else None,
        "url_expires_at": signed.expires_at if signed else None,
        "loudness_lufs": _float(getattr(row, "loudness_lufs", None)),
        "true_peak_dbtp": _float(getattr(row, "true_peak_dbtp", None)),
        "analysis": analysis_state(row),
        "renditions": [rendition_item(d) for d in renditions],
    }


def audio_list_json(
    rows: Sequence[AudioRow], signed: Sequence[SignedUrl | None],
    renditions: dict[str, list[DerivedBlobRow]], next_cursor: str | None,
) -> bytes:
    items = [audio_item(r, s, renditions[r.id]) for r, s in zip(rows, signed, strict=True)]
    return to_json({"items": items, "next_cursor": next_cursor})
