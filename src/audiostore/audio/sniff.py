"""What a file really is, from its first and last bytes (never from its name or Content-Type).

Returns the container the bytes claim to be; `probe` then insists the file parses as exactly
that container. Files that also look like another kind of document (HTML, PDF, ZIP appended:
the usual polyglots) are refused here: by their first 1 KiB (where browsers and PDF readers
look), their last 64 KiB (where a ZIP's directory is), and, for WAV/AIFF, every byte outside
their samples (`carries_foreign_document`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnsupportedMediaType

HEAD_BYTES = 4096
TAIL_BYTES = 65536 + 22  # a ZIP end-of-central-directory record lives in the last 64 KiB


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: str  # our name: wav, aiff, flac, ogg, webm, m4a, mp3, aac
    demuxer: str  # the FFmpeg demuxer that must accept it


_FOREIGN_MAGIC = (
    b"<!DOCTYPE", b"<html", b"<HTML", b"<script", b"<?xml", b"<svg", b"%PDF", b"PK\x03\x04",
    b"\x7fELF", b"MZ", b"GIF8", b"\x89PNG", b"\xff\xd8\xff",
)
# A tag name must be followed by what ends one, so that binary data (cover art, compressed
# frames) does not match by chance: `<svg` alone turns up in about one MiB of random bytes
# in 500, `<svg>` or `<svg ` in one in 16,000, `<html ` in one in two million.
_FOREIGN_DOCUMENT = re.compile(
    rb"<(?:html|script|svg|iframe|object|embed|body|\?php)[\s>/]|<!doctype\s{1,16}html|%PDF-",
    re.IGNORECASE,
)
_SCAN_BLOCK = 1 << 20
_SCAN_OVERLAP = 32  # longer than any marker, so one split across two blocks is still seen


def _skip_id3(head: bytes) -> int:
    if head[:3] == b"ID3" and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        return 10 + size + (10 if head[5] & 0x10 else 0)
    return 0


def _is_mpeg_audio_frame(b: bytes) -> bool:
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return False
    version = (b[1] >> 3) & 0x3
    layer = (b[1] >> 1) & 0x3
    bitrate_index = b[2] >> 4
    rate_index = (b[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate_index not in (0, 15) and rate_index != 3


def _is_adts(b: bytes) -> bool:
    return len(b) >= 7 and b[0] == 0xFF and (b[1] & 0xF6) == 0xF0


def sniff(head: bytes, tail: bytes, *, id3_skipped_head: bytes | None = None) -> Sniffed:
    """Name the container from the file's first bytes. Raises `UnsupportedMediaType`.

    `id3_skipped_head` is the head read again after a leading ID3 tag, when the tag is longer
    than `head` (large cover art).
    """
    if not head:
        raise UnsupportedMediaType("The upload is empty.")
    if head.startswith(_FOREIGN_MAGIC) or _FOREIGN_DOCUMENT.search(head, 0, 1024):
        raise UnsupportedMediaType("The file is not audio (it looks like another kind of document).")
    if b"PK\x05\x06" in tail or b"PK\x03\x04" in tail[-1024:]:
        raise UnsupportedMediaType("The file carries a ZIP archive inside it; refused.")

    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("wav", "wav")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("aiff", "aiff")
    if head[:4] == b"fLaC":
        return Sniffed("flac", "flac")
    if head[:4] == b"OggS":
        return Sniffed("ogg", "ogg")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return Sniffed("webm", "matroska")
    if head[4:8] == b"ftyp":
        return Sniffed("m4a", "mp4")

    offset = _skip_id3(head)
    body = head[offset:] if offset < len(head) else (id3_skipped_head or b"")
    if body[:4] == b"fLaC":
        return Sniffed("flac", "flac")
    if _is_adts(body):
        return Sniffed("aac", "aac")
    if _is_mpeg_audio_frame(body):
        return Sniffed("mp3", "mp3")
    raise UnsupportedMediaType("The file is not audio in an accepted format.")


def carries_foreign_document(path: Path, ranges: Iterable[tuple[int, int]]) -> bool:
    """Whether the bytes of `path` in `ranges` (start, end) hold an HTML or PDF marker.

    For the parts of a file that are not audio data (headers, metadata chunks, bytes after
    the audio), where an HTML page or a PDF hides in a polyglot. Samples are not scanned:
    any bytes are valid PCM, so no rule there could tell a page from a waveform.
    """
    with path.open("rb") as f:
        for start, end in ranges:
            f.seek(start)
            carry = b""
            while start < end:
                block = f.read(min(_SCAN_BLOCK, end - start))
                if not block:
                    break
                start += len(block)
                if _FOREIGN_DOCUMENT.search(carry + block):
                    return True
                carry = block[-_SCAN_OVERLAP:]
    return False
