"""A stereo WAV that says what time it is: decode any 0.2 s of it and read the position back.

Both channels carry one sine whose frequency names the 100-second block (200 Hz + 20 Hz a
block); the right channel's amplitude, relative to the left's, ramps from 0 to 1 across each
block. Codecs and resamplers change both channels alike, so the ratio survives lossy
encoding: the position comes back to about half a second anywhere in an hour.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

BLOCK_SECONDS = 100.0
BASE_HZ, STEP_HZ = 200.0, 20.0


def _signal(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    block = np.floor(t / BLOCK_SECONDS)
    phase_cycles = np.zeros_like(t)
    # Continuous phase within a block (a jump of frequency restarts the phase at 0).
    within = t - block * BLOCK_SECONDS
    phase_cycles = (BASE_HZ + STEP_HZ * block) * within
    wave = np.sin(2 * np.pi * phase_cycles)
    return 0.5 * wave, 0.5 * (within / BLOCK_SECONDS) * wave


def write_clock_wav(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    """`seconds` of the clock signal as 16-bit stereo PCM, written a minute at a time."""
    total = int(seconds * rate)
    data_len = total * 4
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_len)
    with path.open("wb") as f:
        f.write(header)
        step = 60 * rate
        for first in range(0, total, step):
            t = np.arange(first, min(total, first + step)) / rate
            left, right = _signal(t)
            pcm = np.empty((len(t), 2), np.int16)
            pcm[:, 0] = np.round(left * 32767)
            pcm[:, 1] = np.round(right * 32767)
            f.write(pcm.tobytes())
    return path


def position_of(stereo: np.ndarray, rate: int) -> float:
    """The clock time of a stretch of decoded audio (shape (2, n), 0.1-0.5 s of it)."""
    left, right = stereo[0].astype(np.float64), stereo[1].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    freq = np.fft.rfftfreq(len(left), 1 / rate)[int(np.argmax(spectrum))]
    block = round((freq - BASE_HZ) / STEP_HZ)
    ratio = float(np.sqrt(np.mean(right**2) / max(np.mean(left**2), 1e-12)))
    return block * BLOCK_SECONDS + ratio * BLOCK_SECONDS
