"""The early format check of a resumable upload: its first bytes are sniffed as soon as they
are in, so a file that is not audio, or not in a format the upload may have (the server's
AUDIOSTORE_ACCEPTED_FORMATS, a client token's or a signed upload URL's `formats`), is refused
with the same 415 `unsupported_format` as a POST at its first PATCH, not after its last byte.

The verdict comes from the head alone (the container's magic, as `sniff` reads it, and any
document markers in the first KiB); the tail's checks and the full decode still run in the
ingest once the last byte is in. A head that cannot decide yet (fewer than HEAD_BYTES in, or
an ID3 tag that runs past what has arrived) is looked at again by the next PATCH.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from ..audio import HEAD_BYTES, sniff
from ..errors import UnsupportedMediaType

_AFTER_ID3 = 64  # bytes after an ID3 tag that name the audio behind it


def _id3_end(head: bytes) -> int | None:
    if head[:3] == b"ID3" and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        return 10 + size + (10 if head[5] & 0x10 else 0)
    return None


def bytes_needed(head: bytes) -> int:
    """How many of the upload's first bytes the check needs, judging by those in `head`."""
    end = _id3_end(head)
    return HEAD_BYTES if end is None else max(HEAD_BYTES, end + _AFTER_ID3)


def check_head(
    read_at: Callable[[int, int], bytes], available: int, accepted: Collection[str], why: str,
) -> bool:
    """Whether the first `available` bytes (read with `read_at(position, n)`) decide the
    format: True if they pass, False if more are needed. Raises 415 if they do not pass;
    `why` names where `accepted` comes from, for the message."""
    head = read_at(0, min(HEAD_BYTES, available))
    if available < bytes_needed(head):
        return False
    end = _id3_end(head)
    after_tag = read_at(end, _AFTER_ID3) if end is not None and end >= len(head) else None
    found = sniff(head, b"", id3_skipped_head=after_tag).format
    if found not in accepted and not (found == "ogg" and "opus" in accepted):
        raise UnsupportedMediaType(f"{found} uploads are not accepted here ({why}).")
    return True
