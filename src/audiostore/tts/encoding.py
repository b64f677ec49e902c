"""Synthesised PCM to a file in a client's format, with PyAV.

`ogg` means Opus in Ogg: the PyAV wheel has no libvorbis encoder, and Opus is the better
codec for speech anyway. `aac` is AAC in ADTS, the framing that streams and that OpenAI's
speech API answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .base import Speech

__all__ = ["OUTPUT_FORMATS", "OutputFormat", "encode_speech"]


@dataclass(frozen=True, slots=True)
class OutputFormat:
    container: str
    codec: str
    ext: str
    rate: int | None  # None: keep the engine's rate
    bit_rate: int | None = None


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "pcm_s16le", "wav", None),
    "mp3": OutputFormat("mp3", "libmp3lame", "mp3", None, 64_000),
    "opus": OutputFormat("ogg", "libopus", "ogg", 48_000, 32_000),
    "ogg": OutputFormat("ogg", "libopus", "ogg", 48_000, 32_000),
    "aac": OutputFormat("adts", "aac", "aac", None, 64_000),
    "flac": OutputFormat("flac", "flac", "flac", None),
}

FRAME_SAMPLES = 4096


def encode_speech(speech: Speech, fmt: str, path: Path) -> None:
    """Write `speech` to `path` as `fmt` (a key of OUTPUT_FORMATS)."""
    spec = OUTPUT_FORMATS[fmt]
    rate = spec.rate or speech.sample_rate
    with av.open(str(path), mode="w", format=spec.container) as container:
        stream = container.add_stream(spec.codec, rate=rate, layout="mono")
        # Every codec in OUTPUT_FORMATS is an audio encoder, which names its sample formats;
        # PyAV's stubs cannot tell either from a str.
        assert isinstance(stream, av.AudioStream)
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        formats = stream.codec_context.codec.audio_formats
        assert formats
        sample_format = formats[0].name
        resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
        samples = np.ascontiguousarray(speech.samples, dtype=np.int16)
        for start in range(0, max(len(samples), 1), FRAME_SAMPLES):
            chunk = samples[start:start + FRAME_SAMPLES].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = speech.sample_rate
            for out in resampler.resample(frame):
                container.mux(stream.encode(out))
        for out in resampler.resample(None):
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
