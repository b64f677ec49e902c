"""Clips: `start` and `end` (seconds of the source) on a rendition request.

A clip is a rendition like any other (made once, stored, served with Range and ETag, and
covered by a signed URL's signature), keyed by its bounds as well. Bounds are kept to the
millisecond and spelt one way (`12.5`, never `12.50` or `1.25e1`), because a signed URL
carries exactly the canonical spelling. An `end` past the audio's end is the audio's end; a
`start` at or past it has nothing to give and is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..catalog import AudioRow
from ..errors import ValidationFailed


def _seconds(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a number of seconds.") from exc
    if not math.isfinite(value) or value < 0 or value > 1e7:
        raise ValidationFailed(f"{name} must be between 0 and 10000000 seconds.")
    return round(value, 3)


def parse_clip(params: Mapping[str, str]) -> tuple[float | None, float | None]:
    """`start` and `end` from a rendition request; 422 unless 0 <= start < end."""
    start, end = _seconds(params, "start"), _seconds(params, "end")
    if start == 0:
        start = None  # the same bytes as no start: one rendition, one spelling
    if end is not None and end <= (start or 0.0):
        raise ValidationFailed("end must be after start.")
    return start, end


def clip_seconds_text(value: float) -> str:
    """The one spelling of a bound: milliseconds at most, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def clip_bounds(row: AudioRow, start: float | None, end: float | None) -> tuple[float, float | None]:
    """`OutputProfile.start` and `.end` for a clip of `row`; 422 if it starts at or after
    its end."""
    if start is not None and start >= row.duration:
        raise ValidationFailed(
            f"start ({clip_seconds_text(start)} s) is not before the audio's end "
            f"({row.duration:.3f} s)."
        )
    if end is not None and end >= row.duration:
        end = None  # to the end: the same bytes as no end
    return start or 0.0, end


def clip_variant(start: float, end: float | None) -> str:
    """The part of a rendition's variant name that says which clip it is."""
    tail = "end" if end is None else str(round(end * 1000))
    return f"s{round(start * 1000)}-e{tail}"
