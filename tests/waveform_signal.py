"""A signal with known peaks for waveform tests: silence, then a full-scale square wave."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 8000
SPP = 64


def write_wav(path: Path, planar: np.ndarray, rate: int = RATE) -> Path:
    """Write int16 planar samples (channels, n) as 16-bit PCM WAV."""
    channels, total = planar.shape
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        for start in range(0, total, 1000):
            block = np.ascontiguousarray(planar[:, start : start + 1000].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def silence_then_square(path: Path, *, silent_pixels: int, square_pixels: float) -> Path:
    """Left channel: `silent_pixels` x SPP zeros, then a +32767/-32768 square wave (period
    16 samples) for `square_pixels` x SPP samples. Right channel: silent throughout."""
    silence = np.zeros(silent_pixels * SPP, dtype=np.int16)
    square = np.where((np.arange(int(square_pixels * SPP)) // 8) % 2 == 0, 32767, -32768).astype(np.int16)
    left = np.concatenate([silence, square])
    return write_wav(path, np.stack([left, np.zeros_like(left)]))
