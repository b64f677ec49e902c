"""Where the samples of a WAV or AIFF file are, from its chunk list.

Plain PCM is not decoded through at ingest (every byte is a valid sample), so its length,
its truncation and what else the file carries are read from the chunks instead: the sample
chunk (`data` in RIFF, `SSND` in AIFF) says how many bytes of samples there are, and every
byte outside it is header or metadata, which `sniff` may inspect for another document.
FFmpeg trusts the file size and the sample count in the header, which is why this is read
here and not asked of PyAV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_MAX_CHUNKS = 64  # a bounded walk: real files have a handful
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave these until they can seek back


@dataclass(frozen=True, slots=True)
class SampleChunk:
    """The sample bytes of a WAV/AIFF file: `start` .. `start + size`, as far as the header
    says (`declared_size` None: the writer never filled it in; the samples run to the end)."""

    start: int
    size: int
    declared_size: int | None
    file_size: int

    @property
    def truncated(self) -> bool:
        """The header promises more sample bytes than the file holds."""
        return self.declared_size is not None and self.start + self.declared_size > self.file_size

    def outside(self) -> list[tuple[int, int]]:
        """The byte ranges that are not samples: headers, metadata chunks, trailing bytes."""
        ranges = [(0, self.start), (self.start + self.size, self.file_size)]
        return [(a, b) for a, b in ranges if b > a]


def find_sample_chunk(path: Path, fmt: str) -> SampleChunk | None:
    """The sample chunk of a `wav` or `aiff` file, or None when the chunk list holds none."""
    big_endian = fmt == "aiff"
    wanted = b"SSND" if big_endian else b"data"
    file_size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(12)
        for _ in range(_MAX_CHUNKS):
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk_size = int.from_bytes(header[4:], "big" if big_endian else "little")
            if header[:4] == wanted:
                start, declared = f.tell(), None if chunk_size in _UNKNOWN_SIZES else chunk_size
                if big_endian:  # SSND: 4 bytes offset, 4 bytes block size, then the samples
                    skip = 8 + int.from_bytes(f.read(4), "big")
                    start += skip
                    declared = None if declared is None else max(0, declared - skip)
                available = max(0, file_size - start)
                size = available if declared is None else min(declared, available)
                return SampleChunk(start, size, declared_size=declared, file_size=file_size)
            f.seek(chunk_size + (chunk_size & 1), 1)
    return None
