"""Split text into sentences for `segments: true`."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

# A sentence ends at . ! ? … (and CJK 。！？), possibly followed by closing quotes/brackets,
# then whitespace. Abbreviations like "e.g." may split early; that only makes
# one segment shorter, never loses text.
_WORDY = re.compile(r"\w")
_END = re.compile(r"(?:(?<=[.!?…。！？])|(?<=[.!?…。！？][\"'”’)\]]))\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, stripped; text without an end mark is one sentence."""
    parts = [p.strip() for p in _END.split(text.strip())]
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        if out and not _WORDY.search(part):
            out[-1] = f"{out[-1]} {part}"  # "..." or "-" alone has nothing to speak: keep it with its neighbour
        elif len(out) == 1 and not _WORDY.search(out[0]):
            out[0] = f"{out[0]} {part}"
        else:
            out.append(part)
    return out
