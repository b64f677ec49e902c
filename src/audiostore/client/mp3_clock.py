"""Seconds of audio in an MP3 byte stream, counted from its frame headers as bytes arrive.

A queue stream is endless in some modes, so a caller bounds it by audio time: `Mp3Clock`
counts each frame's samples and says where, in a chunk, a given number of seconds ends (on
a frame boundary, so a cut file still decodes). Bytes that are not a frame header (an ID3
tag, ICY metadata, garbage) are skipped one at a time until the next header.

Example:
    ```py
    clock = Mp3Clock()
    for chunk in stream:
        keep = clock.feed(chunk, until=30.0)
        out.write(chunk[:keep])
        if keep < len(chunk) or clock.seconds >= 30.0:
            break
    ```
"""

from __future__ import annotations

_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def frame_of(header: bytes) -> tuple[int, float] | None:
    """(frame length in bytes, seconds) for a 4-byte MPEG Layer III header, else None."""
    b0, b1, b2 = header[0], header[1], header[2]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    table = _BITRATES_V1_L3 if version == 3 else _BITRATES_V2_L3
    bitrate = table[bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    factor, samples = (144, 1152) if version == 3 else (72, 576)
    return factor * bitrate // rate + ((b2 >> 1) & 1), samples / rate


class Mp3Clock:
    """Counts `seconds` (and whole `frames`) of the MP3 bytes fed to it, in order."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.frames = 0
        self._head = b""  # the start of a header split across chunks
        self._rest = 0  # bytes of the current frame still to come

    @property
    def at_boundary(self) -> bool:
        """True between frames (nothing of a frame is pending)."""
        return not self._rest and not self._head

    def feed(self, chunk: bytes, *, until: float | None = None) -> int:
        """Count the frames in `chunk`. With `until`, stop at the first frame boundary where
        `seconds` has reached it and return how many bytes of `chunk` come before it;
        otherwise (or if not reached) return `len(chunk)`."""
        pos, end = 0, len(chunk)
        while pos < end:
            if until is not None and self.seconds >= until and self.at_boundary:
                return pos
            if self._rest:
                take = min(self._rest, end - pos)
                self._rest -= take
                pos += take
                continue
            need = 4 - len(self._head)
            window = self._head + chunk[pos : pos + need]
            if len(window) < 4:
                self._head = window
                return end
            frame = frame_of(window)
            if frame is None:  # not a header: slide one byte on
                self._head = window[1:]
                pos += need
                continue
            length, seconds = frame
            self._head = b""
            pos += need
            self._rest = max(0, length - 4)
            self.seconds += seconds
            self.frames += 1
        return end


__all__ = ["Mp3Clock", "frame_of"]
