"""MPEG audio (Layer III) frames: parse headers, iterate whole frames, drop tag frames.

A continuous queue stream is made by copying whole frames of MP3 files that share one
profile, so we need to know exactly where each frame starts and ends, and to drop what is
not audio: an ID3v2 tag at the start, an ID3v1 tag at the end, and the Xing/Info/VBRI
header frame (a silent frame that describes one file and would lie about the joined
stream). No maintained library parses frames incrementally from a byte stream, hence this.

Example:
    ```py
    reader = Mp3FrameReader()
    for chunk in chunks:
        for frame in reader.feed(chunk):
            print(frame.header.bitrate, len(frame.data))
    ```
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
HEADER_BYTES = 4


@dataclass(frozen=True, slots=True)
class FrameHeader:
    version: int  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate: int  # bits per second
    sample_rate: int
    channels: int
    padding: int
    protected: bool

    @property
    def samples(self) -> int:
        return 1152 if self.version == 3 else 576

    @property
    def length(self) -> int:
        """Bytes in the whole frame, header included."""
        factor = 144 if self.version == 3 else 72
        return factor * self.bitrate // self.sample_rate + self.padding

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    @property
    def profile(self) -> tuple[int, int, int, int]:
        """What must match for frames to be joined: version, rate, channels, bitrate."""
        return (self.version, self.sample_rate, self.channels, self.bitrate)


def parse_header(b: bytes | bytearray | memoryview, offset: int = 0) -> FrameHeader | None:
    """The Layer III frame header at `offset`, or None if those 4 bytes are not one."""
    if len(b) - offset < HEADER_BYTES:
        return None
    b0, b1, b2, b3 = b[offset], b[offset + 1], b[offset + 2], b[offset + 3]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 3
    layer = (b1 >> 1) & 3
    if version == 1 or layer != 1:  # reserved version, or not Layer III
        return None
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 3
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    table = _BITRATES_V1_L3 if version == 3 else _BITRATES_V2_L3
    return FrameHeader(
        version=version,
        bitrate=table[bitrate_index] * 1000,
        sample_rate=_RATES[version][rate_index],
        channels=1 if (b3 >> 6) == 3 else 2,
        padding=(b2 >> 1) & 1,
        protected=not (b1 & 1),
    )


def is_info_frame(header: FrameHeader, frame: bytes | bytearray | memoryview) -> bool:
    """True for a Xing/Info (at the side-info end) or VBRI (at byte 36) header frame."""
    if header.version == 3:
        side = 32 if header.channels == 2 else 17
    else:
        side = 17 if header.channels == 2 else 9
    at = HEADER_BYTES + (2 if header.protected else 0) + side
    tag = bytes(frame[at : at + 4])
    return tag in (b"Xing", b"Info") or bytes(frame[36:40]) == b"VBRI"


@dataclass(frozen=True, slots=True)
class Frame:
    header: FrameHeader
    data: bytes


class Mp3FrameReader:
    """Incremental parser: `feed` bytes in any chunking, get whole audio frames back.

    ID3v2 (start), ID3v1/`TAG` (end) and Xing/Info/VBRI frames are skipped; bytes that are
    not a frame are skipped up to the next valid frame header (resynchronisation).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # bytes still to drop (inside a tag)
        self.skipped_bytes = 0

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        out: list[Frame] = []
        buf = self._buf
        pos = 0
        while True:
            if self._skip:
                n = min(self._skip, len(buf) - pos)
                pos += n
                self._skip -= n
                self.skipped_bytes += n
                if self._skip:
                    break
            if len(buf) - pos < 10:
                break
            if buf[pos : pos + 3] == b"ID3":
                size = (buf[pos + 6] << 21) | (buf[pos + 7] << 14) | (buf[pos + 8] << 7) | buf[pos + 9]
                self._skip = 10 + size + (10 if buf[pos + 5] & 0x10 else 0)
                continue
            if buf[pos : pos + 3] == b"TAG":
                self._skip = 128
                continue
            header = parse_header(buf, pos)
            if header is None:
                pos += 1
                self.skipped_bytes += 1
                continue
            end = pos + header.length
            if end > len(buf):
                break
            frame = bytes(buf[pos:end])
            pos = end
            if not is_info_frame(header, frame):
                out.append(Frame(header, frame))
        del buf[:pos]
        return out

    def finish(self) -> list[Frame]:
        """Nothing whole is left unread at the end; a trailing partial frame is dropped."""
        self._buf.clear()
        return []


def iter_frames(chunks: Iterable[bytes]) -> Iterator[Frame]:
    reader = Mp3FrameReader()
    for chunk in chunks:
        yield from reader.feed(chunk)
