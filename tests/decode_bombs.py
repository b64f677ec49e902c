"""Decode bombs made with PyAV: small files that decode to hours of audio.

FLAC codes digital silence as one constant per block, so an hour of it at 8 kHz mono takes
about 2 MB and a second or so to write, and then costs minutes of CPU to render as MP3.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_BLOCK = 4608 * 8  # samples per frame handed to the encoder


def make_silent_flac(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    """`seconds` of mono digital silence as FLAC at `rate`."""
    silence = np.zeros((1, _BLOCK), dtype=np.int16)
    with av.open(str(path), mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        stream.codec_context.options = {"compression_level": "0"}  # silence packs small anyway
        total, pts = int(seconds * rate), 0
        while pts < total:
            frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
            pts += _BLOCK
        for packet in stream.encode(None):
            out.mux(packet)
    return path
