"""A second, linear container for a rendition's packets, readable while it is written.

A rendition's stored container is finished only at its end: MP4 moves its index to the
front (`faststart`), MP3 fills in its Xing frame count, WAV and FLAC patch their sizes. None
of those can be played while they are written. The same encoded packets are therefore also
muxed into a container that only ever appends (MP3 without a Xing frame, AAC in ADTS, Opus in
Ogg), which a first listener reads as it grows. One encode feeds both: the live copy costs a
few header bytes a frame, never a second encode.

Example:
    ```py
    live = LiveCopy(Path("stream.aac"), "aac")
    transcode(src, Path("out.m4a"), profile, live=live)   # muxes each packet into both
    ```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.container


@dataclass(frozen=True, slots=True)
class LiveFormat:
    container: str
    content_type: str
    ext: str
    options: tuple[tuple[str, str], ...] = ()


# Per rendition format: the container its first play is streamed in.
LIVE_FORMATS: dict[str, LiveFormat] = {
    "mp3": LiveFormat("mp3", "audio/mpeg", "mp3", (("write_xing", "0"), ("id3v2_version", "0"))),
    "aac": LiveFormat("adts", "audio/aac", "aac"),
    "opus": LiveFormat("ogg", "audio/ogg", "opus"),
    "wav": LiveFormat("wav", "audio/wav", "wav"),
    "flac": LiveFormat("flac", "audio/flac", "flac"),
}


class LiveCopy:
    """Muxes packets already encoded for another container into `path` as they come."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = LIVE_FORMATS[fmt]
        self._out: av.container.OutputContainer | None = None
        self._stream: av.AudioStream | None = None

    def mux(self, packet: av.Packet[av.AudioStream], template: av.AudioStream) -> None:
        """Append `packet` (encoded by `template`'s encoder, and already muxed elsewhere)."""
        if self._out is None:
            # Opened at the first packet: the encoder's extradata (AAC's config) exists by then.
            self._out = av.open(
                str(self.path), mode="w", format=self.format.container,
                options={**dict(self.format.options), "flush_packets": "1"},
            )
            self._stream = self._out.add_stream_from_template(template)
        assert self._stream is not None
        packet.stream = self._stream
        self._out.mux(packet)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        elif not self.path.exists():
            self.path.touch()  # no packet at all (an empty clip): an empty stream, not none
