"""Real audio files made with PyAV, for tests: a sine tone in every accepted format; large
PCM WAVs of an exact size, written directly (PyAV would take seconds for them); a FLAC
decompression bomb; and the offsets of WAV/AIFF chunks, for files patched to lie."""

from __future__ import annotations

import struct
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
OGG_FLAC = Recipe("ogg", "flac", "s16", 44100)  # accepted as `ogg`; not one of the session's tones


def make_tone(
    path: Path,
    fmt: str | Recipe,
    *,
    seconds: float = 2.0,
    channels: int = 1,
    frequency: float = 440.0,
    amplitude: float = 0.5,
    sample_rate: int | None = None,
) -> Path:
    """Write a sine tone as `fmt` (a name in RECIPES, or a Recipe) to `path` and return it."""
    r = fmt if isinstance(fmt, Recipe) else RECIPES[fmt]
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


def write_wav(
    path: Path, size: int, *, rate: int = 48_000, channels: int = 2, declared_extra: int = 0
) -> Path:
    """A valid 16-bit PCM WAV of exactly `size` bytes (a quiet ramp), written in 1 MiB steps.
    `declared_extra` > 0 makes its header claim that many more bytes: a truncated file."""
    data_len = size - 44
    data_len -= data_len % (2 * channels)
    declared = data_len + declared_extra
    header = b"RIFF" + struct.pack("<I", 36 + declared) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16
    )
    header += b"data" + struct.pack("<I", declared)
    block = bytes((i * 7) & 0x0F for i in range(1 << 20))  # low-amplitude, not all zeros
    with path.open("wb") as f:
        f.write(header)
        left = data_len
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    return path


def flac_silence_bomb(path: Path, *, hours: float = 100.0, rate: int = 8000) -> Path:
    """A FLAC file of about 6 KiB an hour that decodes to `hours` of mono silence.

    One block of 65,535 silent samples (FLAC's largest) encodes to 13 bytes; it is muxed
    again and again instead of encoding every block (which takes ~20 s for 100 hours). Every
    block then says it is block 0, which FFmpeg's decoder does not check. The header declares
    no length: only decoding finds out how long it is.
    """
    block = 65535
    with av.open(str(path), mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        stream.codec_context.options = {"frame_size": str(block)}
        frame = av.AudioFrame.from_ndarray(np.zeros((1, block), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        (encoded,) = stream.encode(frame)
        data = bytes(encoded)
        for i in range(int(hours * 3600 * rate) // block):
            packet = av.Packet(data)
            packet.pts = packet.dts = i * block
            packet.duration, packet.time_base, packet.stream = block, Fraction(1, rate), stream
            out.mux(packet)
    return path


def chunk_offsets(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Where each chunk of a WAV (RIFF) or AIFF (FORM) file's payload starts, and its size."""
    order = "big" if data[:4] == b"FORM" else "little"
    found, at = {}, 12
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4 : at + 8], order)
        found[data[at : at + 4]] = (at + 8, size)
        at += 8 + size + (size & 1)
    return found


def riff_chunk(chunk_id: bytes, payload: bytes) -> bytes:
    """One little-endian RIFF chunk, padded to an even length."""
    return chunk_id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def with_riff_size(data: bytes) -> bytes:
    """`data` with its RIFF size set to cover all of it (after chunks were added)."""
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
