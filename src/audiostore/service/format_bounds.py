"""Whether a received file is in one of the formats an upload's bounds allow (a signed upload
URL's, a client token's, or both; sniffed from its bytes, as the ingest does; the declared
type never counts), and the 415 that names which of them refused it. Before the ingest, which
then checks it against AUDIOSTORE_ACCEPTED_FORMATS and probes it as usual."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..audio import HEAD_BYTES, TAIL_BYTES, sniff
from ..errors import UnsupportedMediaType


# What set an upload's `formats` (kept with a resumable upload's row), and how a 415 names it.
SET_BY_UPLOAD_URL = "upload_url"
SET_BY_CLIENT_TOKEN = "client_token"
SET_BY_BOTH = "upload_url+client_token"
_NAMED = {
    SET_BY_UPLOAD_URL: "this upload URL",
    SET_BY_CLIENT_TOKEN: "the client token",
    SET_BY_BOTH: "this upload URL and the client token",
}


def set_by_name(set_by: str) -> str:
    """The words a 415 uses for what set the formats."""
    return _NAMED.get(set_by, _NAMED[SET_BY_UPLOAD_URL])


def not_among(found: str, formats: Sequence[str], set_by: str) -> UnsupportedMediaType:
    """The 415 for a file in a format outside the bounds, naming what set them."""
    return UnsupportedMediaType(
        f"{found} is not among the formats allowed by {set_by_name(set_by)} ({', '.join(formats)})."
    )


def check_formats(path: Path, formats: Sequence[str], set_by: str = SET_BY_UPLOAD_URL) -> None:
    """415 `unsupported_format` unless the file at `path` sniffs as one of `formats` (set by
    `set_by`)."""
    if not formats:
        return
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read(TAIL_BYTES)
    found = sniff(head, tail).format
    if found not in formats and not (found == "ogg" and "opus" in formats):
        raise not_among(found, formats, set_by)
