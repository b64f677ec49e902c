"""Split text into sentences for `segments: true`."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

# A sentence ends at . ! ? … (and CJK 。！？), possibly followed by closing quotes/brackets,
# then whitespace. Abbreviations like "e.g." may split early; that only makes
# one segment shorter, never loses text.
_END = re.compile(r"(?:(?<=[.!?…。！？])|(?<=[.!?…。！？][\"'”’)\]]))\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, stripped; text without an end mark is one sentence."""
    parts = [p.strip() for p in _END.split(text.strip())]
    return [p for p in parts if p]
