"""Real audio files made with PyAV, for tests: a sine tone in every accepted format."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Recipe:
    container: str
    codec: str
    sample_fmt: str
    rate: int
    options: dict[str, str] | None = None


RECIPES: dict[str, Recipe] = {
    "wav": Recipe("wav", "pcm_s16le", "s16", 44100),
    "aiff": Recipe("aiff", "pcm_s16be", "s16", 44100),
    "flac": Recipe("flac", "flac", "s16", 44100),
    "mp3": Recipe("mp3", "libmp3lame", "fltp", 44100),
    "m4a": Recipe("ipod", "aac", "fltp", 44100),
    "aac": Recipe("adts", "aac", "fltp", 44100),
    "ogg": Recipe("ogg", "vorbis", "fltp", 44100, {"strict": "experimental"}),
    "opus": Recipe("ogg", "libopus", "flt", 48000),
    "webm": Recipe("webm", "libopus", "flt", 48000),
}


def make_tone(
    path: Path,
    fmt: str,
    *,
    seconds: float = 2.0,
    channels: int = 1,
    frequency: float = 440.0,
    amplitude: float = 0.5,
    sample_rate: int | None = None,
) -> Path:
    """Write a sine tone as `fmt` to `path` and return it."""
    r = RECIPES[fmt]
    rate = sample_rate or r.rate
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), mode="w", format=r.container) as out:
        stream = out.add_stream(r.codec, rate=rate, layout=layout)
        if r.options:
            stream.codec_context.options = dict(r.options)
        total = int(seconds * rate)
        t = np.arange(total) / rate
        wave = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
        planar = np.tile(wave, (channels, 1))
        chunk = 1024
        for start in range(0, total, chunk):
            block = planar[:, start : start + chunk]
            if r.sample_fmt == "s16":
                data = (block.T.reshape(1, -1) * 32767).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
            elif r.sample_fmt == "flt":
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(block.T.reshape(1, -1)), format="flt", layout=layout
                )
            else:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
