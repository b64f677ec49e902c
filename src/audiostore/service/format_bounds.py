"""Whether a received file is in one of the formats an upload URL allows (sniffed from its
bytes, as the ingest does; the declared type never counts). Before the ingest, which then
checks it against AUDIOSTORE_ACCEPTED_FORMATS and probes it as usual."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..audio import HEAD_BYTES, TAIL_BYTES, sniff
from ..errors import UnsupportedMediaType


def check_formats(path: Path, formats: Sequence[str]) -> None:
    """415 `unsupported_format` unless the file at `path` sniffs as one of `formats`."""
    if not formats:
        return
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read(TAIL_BYTES)
    found = sniff(head, tail).format
    if found not in formats and not (found == "ogg" and "opus" in formats):
        raise UnsupportedMediaType(
            f"{found} is not among the formats this upload URL accepts ({', '.join(formats)})."
        )
