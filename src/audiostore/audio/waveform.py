"""Waveform peaks in audiowaveform's formats (JSON and binary `.dat`), computed with numpy.

The audio is decoded with PyAV to 16-bit samples; each run of `samples_per_pixel` samples
gives one (min, max) pair per output channel; a shorter last run still gives a pair (as
audiowaveform does). `mono` mixes channels as their integer mean; `all` keeps each channel.
8-bit values are the 16-bit values divided by 256 (truncated toward zero, as in C++).

Formats (audiowaveform's DataFormat document):
- JSON: `version`, `channels`, `sample_rate`, `samples_per_pixel`, `bits`, `length`, `data`
  (min, max for channel 0, then channel 1, ... for each pixel in turn). Version 1 has one
  channel; version 2 is used for more than one.
- `.dat`: little-endian int32 `version`, uint32 `flags` (bit 0: 8-bit data), int32
  `sample_rate`, int32 `samples_per_pixel`, uint32 `length`, and for version 2 int32
  `channels`; the data follows at byte 20 (v1) or 24 (v2) as int8 or int16 values.

Example:
    ```py
    peaks = compute_peaks(Path("take.wav"), samples_per_pixel=256, bits=8, split_channels=False)
    json_doc = peaks.to_json()      # {"version": 1, "channels": 1, ...}
    dat = peaks.to_dat()            # bytes
    ```
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from ..errors import UndecodableAudio
from .work_budget import WorkBudget


@dataclass(frozen=True, slots=True)
class Peaks:
    sample_rate: int
    samples_per_pixel: int
    bits: int
    channels: int
    data: np.ndarray  # shape (length, channels, 2): min, max

    @property
    def version(self) -> int:
        return 2 if self.channels > 1 else 1

    @property
    def length(self) -> int:
        return int(self.data.shape[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "channels": self.channels,
            "sample_rate": self.sample_rate,
            "samples_per_pixel": self.samples_per_pixel,
            "bits": self.bits,
            "length": self.length,
            "data": self.data.reshape(-1).tolist(),
        }

    def to_dat(self) -> bytes:
        flags = 1 if self.bits == 8 else 0
        header = struct.pack(
            "<iIiiI", self.version, flags, self.sample_rate, self.samples_per_pixel, self.length
        )
        if self.version == 2:
            header += struct.pack("<i", self.channels)
        dtype = "<i1" if self.bits == 8 else "<i2"
        return header + self.data.reshape(-1).astype(dtype).tobytes()


def parse_dat(blob: bytes) -> dict[str, Any]:
    """Read a `.dat` back into the JSON shape (used by tests and tools)."""
    version, flags, rate, spp, length = struct.unpack_from("<iIiiI", blob, 0)
    channels, offset = (struct.unpack_from("<i", blob, 20)[0], 24) if version == 2 else (1, 20)
    dtype = "<i1" if flags & 1 else "<i2"
    data = np.frombuffer(blob, dtype=dtype, offset=offset)
    return {
        "version": version, "channels": channels, "sample_rate": rate, "samples_per_pixel": spp,
        "bits": 8 if flags & 1 else 16, "length": length, "data": data.tolist(),
    }


def _reduce(block: np.ndarray, spp: int) -> np.ndarray:
    """(n*spp, ch) int32 samples -> (n, ch, 2) min/max."""
    shaped = block.reshape(-1, spp, block.shape[1])
    return np.stack([shaped.min(axis=1), shaped.max(axis=1)], axis=-1)


def compute_peaks(
    path: Path, *, samples_per_pixel: int | None = None, pixels_per_second: int | None = None,
    bits: int = 8, split_channels: bool = False, budget: WorkBudget | None = None,
) -> Peaks:
    """Decode `path` and reduce it to min/max pairs. Exactly one of the two scales is given.

    `budget` is charged every decoded frame with its seconds and with the `.dat` bytes of
    the pixels it completed (JSON is a few times larger): `ProcessingLimit` past a bound,
    `ShuttingDown` once cancelled. The pixels are held in memory, so this bounds that too."""
    budget = budget or WorkBudget()
    budget.start()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UndecodableAudio(f"The stored audio cannot be read: {exc}") from exc
    with container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        spp = samples_per_pixel or max(1, rate // (pixels_per_second or 1))
        chunks: list[np.ndarray] = []
        pending = np.zeros((0, 1), dtype=np.int32)
        channels: int | None = None
        resampler = None
        try:
            for frame in container.decode(stream):
                budget.charge(audio_seconds=frame.samples / (frame.sample_rate or 1))
                if resampler is None:
                    rate = frame.sample_rate
                    if pixels_per_second:
                        spp = max(1, rate // pixels_per_second)
                    resampler = av.AudioResampler(format="s16", layout=frame.layout.name, rate=rate)
                for f in resampler.resample(frame):
                    n_ch = len(f.layout.channels)
                    samples = f.to_ndarray().reshape(-1, n_ch).astype(np.int32)
                    if not split_channels:
                        # Integer mean, truncated toward zero like audiowaveform's C++.
                        total = samples.sum(axis=1)
                        samples = (np.sign(total) * (np.abs(total) // n_ch)).reshape(-1, 1)
                    if channels is None:
                        channels = samples.shape[1]
                        pending = np.zeros((0, channels), dtype=np.int32)
                    pending = np.concatenate([pending, samples])
                    whole = (len(pending) // spp) * spp
                    if whole:
                        budget.charge(output_bytes=(whole // spp) * channels * 2 * (bits // 8))
                        chunks.append(_reduce(pending[:whole], spp))
                        pending = pending[whole:]
        except (av.error.FFmpegError, ValueError) as exc:
            raise UndecodableAudio(f"The stored audio cannot be decoded: {exc}") from exc
    channels = channels or 1
    if len(pending):
        chunks.append(np.stack([pending.min(axis=0), pending.max(axis=0)], axis=-1)[None])
    data = np.concatenate(chunks) if chunks else np.zeros((0, channels, 2), dtype=np.int32)
    if bits == 8:
        data = np.sign(data) * (np.abs(data) // 256)
    return Peaks(rate, spp, bits, channels, data.astype(np.int32))
