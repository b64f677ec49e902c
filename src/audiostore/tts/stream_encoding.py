"""Speech encoded sentence by sentence: bytes for a listener now, a complete file for storage.

`SpeechEncoder` feeds each sentence's PCM to one PyAV muxer whose output is a seekable file,
so muxers that fix their header at the end (WAV's sizes, FLAC's STREAMINFO, MP3's Xing
frame) leave a correct file to store. What the muxer appends is also handed back as it
comes: those bytes are a valid stream on their own (a WAV whose sizes say "unknown",
0xFFFFFFFF, as streamed WAV does; a FLAC without a total; an Xing frame still saying
nothing), which ffprobe and players read as they arrive.

`pcm` is OpenAI's raw format: 24 kHz 16-bit mono little-endian samples, no header. Raw
samples can be neither sniffed nor probed, so it is stored as a 24 kHz WAV and a listener is
sent what follows that WAV's header (`pcm_data_offset`).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from .base import Speech
from .encoding import OUTPUT_FORMATS, OutputFormat

__all__ = ["STREAM_FORMATS", "SpeechEncoder", "StreamFormat", "pcm_data_offset"]

PCM_RATE = 24_000
AVIO_BUFFER = 4096  # what the muxer holds back before its file sees it: a sentence's tail
OGG_PAGE_MICROSECONDS = "100000"  # Ogg pages of 0.1 s, not 1 s: a sentence goes out when it ends


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """An output format a stream can be asked for: how it is encoded and stored, the
    Content-Type a listener gets, and whether the listener gets raw samples."""

    output: OutputFormat
    content_type: str
    raw_pcm: bool = False


_CONTENT_TYPES = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "ogg": "audio/ogg",
    "aac": "audio/aac", "flac": "audio/flac",
}
STREAM_FORMATS: dict[str, StreamFormat] = {
    **{name: StreamFormat(spec, _CONTENT_TYPES[name]) for name, spec in OUTPUT_FORMATS.items()},
    "pcm": StreamFormat(OutputFormat("wav", "pcm_s16le", "wav", PCM_RATE), "audio/pcm", raw_pcm=True),
}


class _TeeFile(io.RawIOBase):
    """A seekable file that also collects every byte written past its furthest point so far:
    the bytes a listener has not had yet. Rewrites of earlier bytes (a header fixed at the
    end) reach the file only."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("w+b")
        self._furthest = 0
        self._fresh = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        at = self._file.tell()
        self._file.write(chunk)
        end = at + len(chunk)
        if end > self._furthest:
            if at > self._furthest:  # a muxer never skips ahead; were it to, the gap is zeros
                self._fresh += bytes(at - self._furthest)
            self._fresh += chunk[max(0, self._furthest - at):]
            self._furthest = end
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def take_fresh(self) -> bytes:
        data = bytes(self._fresh)
        self._fresh.clear()
        return data

    def close(self) -> None:
        self._file.close()
        super().close()


class SpeechEncoder:
    """Encode speech as it is synthesised, one `feed` per sentence, into `path`.

    Blocking (PyAV): call from a worker thread. Every sentence must have the first one's
    sample rate (one voice). After `finish()` the file at `path` is complete.
    """

    def __init__(self, fmt: str, path: Path, sample_rate: int) -> None:
        self.format = STREAM_FORMATS[fmt]
        spec = self.format.output
        self.path = path
        self.sample_rate = sample_rate
        self._tee = _TeeFile(path)
        options = {"page_duration": OGG_PAGE_MICROSECONDS} if spec.container == "ogg" else {}
        self._container = av.open(
            self._tee, mode="w", format=spec.container, options=options, buffer_size=AVIO_BUFFER,
        )
        rate = spec.rate or sample_rate
        stream = self._container.add_stream(spec.codec, rate=rate, layout="mono")
        # Every codec here is an audio encoder; PyAV's stubs cannot tell that from a str.
        assert isinstance(stream, av.AudioStream)
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        formats = stream.codec_context.codec.audio_formats
        assert formats
        self._stream = stream
        self._resampler = av.AudioResampler(format=formats[0].name, layout="mono", rate=rate)
        self._sent_header = False

    def feed(self, speech: Speech) -> bytes:
        """Encode one sentence; the bytes a listener may have now."""
        if speech.sample_rate != self.sample_rate:
            raise ValueError("every sentence of one stream must have one sample rate")
        samples = np.ascontiguousarray(speech.samples, dtype=np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        for out in self._resampler.resample(frame):
            self._container.mux(self._stream.encode(out))
        return self._fresh()

    def finish(self) -> bytes:
        """Flush the encoder and close the file (fixing its header); the last bytes."""
        for out in self._resampler.resample(None):
            self._container.mux(self._stream.encode(out))
        self._container.mux(self._stream.encode(None))
        self._container.close()
        tail = self._fresh()
        self._tee.close()
        return tail

    def abort(self) -> None:
        """Stop without finishing (the file is left for the caller to remove)."""
        try:
            self._container.close()
        except (av.FFmpegError, ValueError, OSError):
            pass  # a half-written muxer may refuse its trailer; nothing is kept of it anyway
        self._tee.close()

    def _fresh(self) -> bytes:
        data = self._tee.take_fresh()
        if self.format.raw_pcm and not self._sent_header:
            # The WAV header (with its LIST chunk) comes out whole in the first write.
            offset = pcm_data_offset(data)
            if offset is None:
                raise ValueError("the WAV muxer wrote no complete header first")
            self._sent_header = True
            data = data[offset:]
        return data


def pcm_data_offset(head: bytes) -> int | None:
    """Where the samples start in a WAV file that begins with `head` (after its `data`
    chunk's header), or None if `head` does not hold the whole header."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(head):
        chunk_id, size = head[at:at + 4], struct.unpack_from("<I", head, at + 4)[0]
        if chunk_id == b"data":
            return at + 8
        at += 8 + size + (size & 1)
    return None
