"""Whether an Ogg file ends where its last page says it does.

FFmpeg takes an Ogg file's length from the last page it can read, so a file cut anywhere
decodes without an error to a shorter length and its "declared" duration agrees. A complete
file ends with a whole page (a 27-byte header, a segment table, and exactly as many bytes as
the table counts) that carries the end-of-stream flag: libogg and FFmpeg set it on the last
page of every stream they write. Only the file's last 64 KiB are read (a page is at most
65,307 bytes), so the check costs the same for any file.
"""

from __future__ import annotations

from pathlib import Path

_CAPTURE = b"OggS"
_HEADER = 27  # capture, version, flags, granule(8), serial(4), sequence(4), crc(4), segments
_MAX_PAGE = _HEADER + 255 + 255 * 255
_END_OF_STREAM = 0x04


def ogg_end_problem(path: Path) -> str | None:
    """Why the file does not end as a complete Ogg stream, or None when it does."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - _MAX_PAGE))
        tail = f.read()
    at = len(tail)
    # The last page is the last capture pattern whose page ends exactly at the end of the
    # file; a capture inside packet data would have to match the file's length to the byte.
    while (at := tail.rfind(_CAPTURE, 0, at)) >= 0:
        header = tail[at : at + _HEADER]
        if len(header) < _HEADER or header[4] != 0:
            continue
        segments = header[26]
        table = tail[at + _HEADER : at + _HEADER + segments]
        if len(table) == segments and at + _HEADER + segments + sum(table) == len(tail):
            if header[5] & _END_OF_STREAM:
                return None
            return "it ends without its end-of-stream page"
    return "its last page is cut short (or followed by bytes that are not Ogg)"
