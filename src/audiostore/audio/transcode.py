"""Encode a stored audio file into another format with PyAV (one pass, streaming).

Formats: `mp3` (LAME, CBR), `opus` (Opus in Ogg), `aac` (AAC in MP4/M4A, so players know
the encoder delay and the duration is exact), `wav` (16-bit PCM) and `flac`. Frames are
decoded, resampled to the output rate and layout, optionally scaled by a gain (loudness
normalisation, never above a peak ceiling), and encoded; PyAV's encoder buffers them into
the codec's frame size. Nothing is held whole in memory.

Example:
    ```py
    profile = OutputProfile("mp3", bitrate=128_000, sample_rate=44_100, channels=2)
    transcode(Path("in.webm"), Path("out.mp3"), profile, budget=WorkBudget(cpu_seconds=60))
    ```
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from ..disk_space import is_out_of_space
from ..errors import InsufficientStorage, UndecodableAudio
from .live_copy import LiveCopy
from .work_budget import WorkBudget


@dataclass(frozen=True, slots=True)
class FormatInfo:
    container: str
    codec: str
    ext: str
    content_type: str
    lossy: bool
    default_bitrate: int | None
    rates: tuple[int, ...] | None  # None: any rate
    max_channels: int
    container_options: tuple[tuple[str, str], ...] = ()
    # Timestamps on the source's clock (a clip from second 12 starts at 12 s), so pieces
    # made one by one play as one timeline: HLS segments.
    source_clock: bool = False
    codec_options: tuple[tuple[str, str], ...] = ()


FORMATS: dict[str, FormatInfo] = {
    "mp3": FormatInfo(
        "mp3", "libmp3lame", "mp3", "audio/mpeg", True, 128_000,
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 2,
    ),
    "opus": FormatInfo(
        "ogg", "libopus", "opus", "audio/ogg", True, 96_000, (8000, 12000, 16000, 24000, 48000), 2,
    ),
    "aac": FormatInfo(
        "ipod", "aac", "m4a", "audio/mp4", True, 128_000,
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000), 2,
        (("movflags", "+faststart"),),
    ),
    "wav": FormatInfo("wav", "pcm_s16le", "wav", "audio/wav", False, None, None, 8),
    "flac": FormatInfo("flac", "flac", "flac", "audio/flac", False, None, None, 8),
}

# Segment formats: made by the service for HLS, never asked for as `?format=`.
SEGMENT_FORMATS: dict[str, FormatInfo] = {
    "hls-aac": FormatInfo(
        "mpegts", "aac", "ts", "video/mp2t", True, 128_000,
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 2, source_clock=True,
        # A segment is made while a player waits for it: FFmpeg's fast coder encodes about 4x
        # faster than its default two-loop search, for a small loss at these bit rates.
        codec_options=(("aac_coder", "fast"),),
    ),
}


def format_info(fmt: str) -> FormatInfo:
    return FORMATS.get(fmt) or SEGMENT_FORMATS[fmt]


MIN_BITRATE, MAX_BITRATE = 8_000, 512_000
MIN_RATE, MAX_RATE = 8_000, 192_000


@dataclass(frozen=True, slots=True)
class OutputProfile:
    """Every parameter that decides the output bytes (and so the rendition's key)."""

    format: str
    bitrate: int | None = None
    sample_rate: int = 44_100
    channels: int = 2
    gain_db: float = 0.0
    # MP3 for continuous queue streams: bit reservoir off (frames stand alone) and no
    # ID3 or Xing/Info header, so frames of different files can be joined back to back.
    standalone_frames: bool = False
    # A clip: seconds of the source from `start` to `end` (None: to its end).
    start: float = 0.0
    end: float | None = None

    def seconds_of(self, source_duration: float) -> float:
        """How long the output is for a source of `source_duration` seconds."""
        end = source_duration if self.end is None else min(self.end, source_duration)
        return max(0.0, end - min(self.start, end))


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def transcode(
    src: Path | io.RawIOBase, dst: Path, profile: OutputProfile, *, budget: WorkBudget | None = None,
    live: LiveCopy | None = None,
) -> float:
    """Write `src` as `profile` to `dst`; returns the seconds of audio written.

    `budget` is charged every decoded frame (its seconds) and every muxed packet (its
    bytes): past a bound this raises `ProcessingLimit`, once cancelled `ShuttingDown`; `dst`
    is then incomplete and the caller removes it. `live`, if given, gets every packet too,
    as soon as it is encoded. A clip (`profile.start`, `profile.end`) seeks the source to its
    start first, so its cost is that of the clip, wherever it lies."""
    budget = budget or WorkBudget()
    budget.start()
    info = format_info(profile.format)
    options = dict(info.container_options)
    codec_options: dict[str, str] = dict(info.codec_options)
    if profile.format == "mp3" and profile.standalone_frames:
        options.update(write_xing="0", id3v2_version="0", write_id3v1="0")
        codec_options["reservoir"] = "0"
    gain = 10 ** (profile.gain_db / 20) if profile.gain_db else 1.0
    layout = _layout(profile.channels)
    written = 0
    first_pts = round(profile.start * profile.sample_rate) if info.source_clock else 0
    try:
        source = av.open(str(src) if isinstance(src, Path) else src, mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise UndecodableAudio(f"The stored audio cannot be read: {exc}") from exc
    with source, av.open(str(dst), mode="w", format=info.container, options=options) as out:
        stream = out.add_stream(info.codec, rate=profile.sample_rate, layout=layout)
        # Every codec in FORMATS is an audio encoder; PyAV's stubs cannot tell that from a str.
        assert isinstance(stream, av.AudioStream)
        if info.lossy and profile.bitrate:
            stream.bit_rate = profile.bitrate
        if profile.format == "flac" or profile.format == "wav":
            stream.format = "s16"
        if codec_options:
            stream.codec_context.options = codec_options
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=profile.sample_rate)
        time_base = Fraction(1, profile.sample_rate)
        window = _Window(profile, source)

        def encode(frames: list[av.AudioFrame]) -> None:
            nonlocal written
            for frame in window.cut(frames):
                if gain != 1.0:
                    data = frame.to_ndarray() * np.float32(gain)
                    frame = av.AudioFrame.from_ndarray(
                        np.clip(data, -1.0, 1.0).astype(np.float32), format="fltp", layout=layout
                    )
                    frame.sample_rate = profile.sample_rate
                frame.pts = first_pts + written
                frame.time_base = time_base
                written += frame.samples
                mux(stream.encode(frame))

        def mux(packets: list[av.Packet[av.AudioStream]]) -> None:
            for packet in packets:
                size = packet.size
                out.mux(packet)
                if live is not None:
                    live.mux(packet, stream)
                budget.charge(output_bytes=size)

        try:
            for frame in source.decode(source.streams.audio[0]):
                rate = frame.sample_rate or profile.sample_rate
                budget.charge(audio_seconds=frame.samples / rate)
                window.place(frame)
                frame.pts = None
                encode(resampler.resample(frame))
                if window.past_end:
                    break
            encode(resampler.resample(None))
            mux(stream.encode(None))
        except (av.error.FFmpegError, ValueError) as exc:
            if is_out_of_space(exc):  # the output's disk, not the audio: never a 422
                raise InsufficientStorage() from exc
            raise UndecodableAudio(f"The stored audio cannot be transcoded: {exc}") from exc
        finally:
            if live is not None:
                live.close()
    return written / profile.sample_rate


class _Window:
    """Keeps the resampled frames that fall in a clip's [start, end), trimmed to the sample.

    The source is sought (backwards, to a packet before `start`); the first decoded frame's
    timestamp then places the output on the source's clock, and everything before `start`
    or from `end` on is cut away. Without a clip, every frame passes untouched."""

    def __init__(self, profile: OutputProfile, source: av.container.InputContainer) -> None:
        self.rate = profile.sample_rate
        self.start = round(profile.start * self.rate)
        self.end = None if profile.end is None else round(profile.end * self.rate)
        self.clipped = self.start > 0 or self.end is not None
        self.position: int | None = None if self.clipped else 0  # of the next resampled sample
        self.past_end = False
        if self.start > 0:
            stream = source.streams.audio[0]
            base = stream.time_base or Fraction(1, self.rate)
            # A little before the start: decoders need a frame or two to settle after a seek.
            target = max(0.0, profile.start - 0.5)
            source.seek(int(target / base), stream=stream, backward=True, any_frame=False)

    def place(self, frame: av.AudioFrame) -> None:
        """Note where the first decoded frame lies (later ones follow it sample by sample)."""
        if self.position is None:
            when = frame.time if frame.time is not None else 0.0
            self.position = round(when * self.rate)
        if self.end is not None and frame.time is not None and frame.time * self.rate >= self.end:
            self.past_end = True

    def cut(self, frames: list[av.AudioFrame]) -> list[av.AudioFrame]:
        if not self.clipped:
            return frames
        kept: list[av.AudioFrame] = []
        for frame in frames:
            first = self.position or 0
            self.position = first + frame.samples
            lo = max(self.start, first) - first
            hi = frame.samples if self.end is None else min(self.end, first + frame.samples) - first
            if hi <= lo:
                if self.end is not None and first >= self.end:
                    self.past_end = True
                continue
            if lo == 0 and hi == frame.samples:
                kept.append(frame)
                continue
            layout = frame.layout.name
            part = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(frame.to_ndarray()[:, lo:hi], dtype=np.float32), format="fltp", layout=layout
            )
            part.sample_rate = self.rate
            kept.append(part)
        return kept
