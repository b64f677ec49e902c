"""Facts about an audio file, from a full decode with PyAV.

A full decode is what makes "truncated or undecodable" a fact rather than a guess: the file
must demux as the container `sniff` named, hold an audio stream and no video (cover art is
fine), decode without errors, and not end well short of the length its header declares.
(Plain PCM is the exception: any bytes are valid samples, so its header and data chunk size
are checked against the file instead of decoding it all.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from ..errors import UndecodableAudio, UnsupportedMediaType
from .sniff import Sniffed

av.logging.set_level(av.logging.PANIC)
log = logging.getLogger(__name__)

_CONTENT_TYPES = {
    "wav": "audio/wav",
    "aiff": "audio/aiff",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
}


@dataclass(frozen=True, slots=True)
class AudioFacts:
    format: str
    ext: str
    content_type: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    bitrate: int | None


def content_type_for(fmt: str) -> str:
    return _CONTENT_TYPES.get(fmt, "application/octet-stream")


def probe(
    path: Path, sniffed: Sniffed, *, on_frame: Callable[[av.AudioFrame], None] | None = None
) -> AudioFacts:
    """Decode the whole file; raise `UnsupportedMediaType` or `UndecodableAudio` if it is not
    playable audio of the sniffed container. `on_frame` sees every decoded frame (loudness is
    measured from the same decode)."""
    try:
        container = av.open(str(path), format=sniffed.demuxer, mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise UndecodableAudio(f"The file cannot be read as {sniffed.format}: {exc}") from exc
    with container:
        fmt_names = set(container.format.name.split(","))
        if sniffed.format == "webm" and "webm" not in fmt_names and "matroska" not in fmt_names:
            raise UnsupportedMediaType("Not a WebM/Matroska file.")
        videos = [
            s for s in container.streams.video
            if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if videos:
            raise UnsupportedMediaType("The file holds video; only audio is accepted.")
        if not container.streams.audio:
            raise UnsupportedMediaType("The file holds no audio stream.")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        samples = 0
        sample_rate = stream.codec_context.sample_rate or 0
        # Plain PCM in WAV/AIFF: every byte is a valid sample, so decoding it all would check
        # nothing the header does not; its length comes from the data chunk's size (checked
        # against the file below). One frame is decoded to prove the codec really opens.
        pcm_length = _pcm_samples(stream) if sniffed.format in ("wav", "aiff") and on_frame is None else None
        try:
            for frame in container.decode(stream):
                samples += frame.samples
                sample_rate = frame.sample_rate or sample_rate
                if on_frame is not None:
                    on_frame(frame)
                if pcm_length is not None:
                    samples = pcm_length
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            raise UndecodableAudio(f"The audio cannot be decoded: {exc}") from exc
        if sniffed.format in ("wav", "aiff") and _pcm_chunk_truncated(path, sniffed.format):
            raise UndecodableAudio("The audio is truncated: its data chunk is shorter than its header says.")
        if samples == 0 or sample_rate == 0:
            raise UndecodableAudio("The file holds no decodable audio.")
        duration = samples / sample_rate
        declared = _declared_duration(container, stream)
        if declared is not None and declared - duration > max(0.25, 0.02 * declared):
            raise UndecodableAudio(
                f"The audio is truncated: its header declares {declared:.2f} s but only "
                f"{duration:.2f} s could be decoded."
            )
        channels = stream.codec_context.channels or stream.channels
        fmt = sniffed.format
        if fmt == "ogg" and codec == "opus":
            fmt = "opus"
        size = path.stat().st_size
        bitrate = int(container.bit_rate) if container.bit_rate else int(size * 8 / duration)
        return AudioFacts(
            format=fmt,
            ext=fmt,
            content_type=content_type_for(fmt),
            codec=codec,
            duration=round(duration, 6),
            sample_rate=int(sample_rate),
            channels=int(channels),
            bitrate=bitrate,
        )


def _pcm_samples(stream: av.AudioStream) -> int | None:
    """The sample count of an uncompressed PCM stream from its header, or None when the
    codec is not plain PCM or the header gives no length (then the file is decoded)."""
    rate = stream.codec_context.sample_rate
    if not stream.codec_context.name.startswith("pcm_") or not rate or stream.duration is None:
        return None
    if stream.time_base is None or stream.time_base.denominator != rate * stream.time_base.numerator:
        return None
    return int(stream.duration)


def _pcm_chunk_truncated(path: Path, fmt: str) -> bool:
    """FFmpeg trusts the file size for WAV/AIFF, so read the data chunk's declared size.

    Sizes of 0 and 0xFFFFFFFF mean "unknown" (streaming writers) and are accepted.
    """
    big_endian = fmt == "aiff"
    wanted = b"SSND" if big_endian else b"data"
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(12)
        for _ in range(64):  # bounded walk over the chunk list
            header = f.read(8)
            if len(header) < 8:
                return False
            chunk_size = int.from_bytes(header[4:], "big" if big_endian else "little")
            if header[:4] == wanted:
                if chunk_size in (0, 0xFFFFFFFF):
                    return False
                return f.tell() + chunk_size > size
            f.seek(chunk_size + (chunk_size & 1), 1)
    return False


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
