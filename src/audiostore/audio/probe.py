"""Facts about an audio file, from a full decode with PyAV.

A full decode is what makes "truncated or undecodable" a fact rather than a guess: the file
must demux as the container `sniff` named, hold an audio stream and no video (cover art is
fine), decode without errors, and not end well short of the length its header declares.
(Plain PCM is the exception: any bytes are valid samples, so its header and data chunk size
are checked against the file instead of decoding it all.) Ogg must end with a whole
end-of-stream page, since its declared length is read from whatever page comes last.

The duration and sample rate are what decodes, never what a header says, and both are held
to `AudioLimits` while decoding: the decode stops as soon as the audio runs past the maximum
duration, so a small file that decodes to days of silence costs at most that much decoding.
Decoding runs at roughly 700-1,400x real time here (10 minutes of stereo MP3, FLAC, Vorbis,
Opus or AAC: 0.4-0.9 s of CPU); only demuxing, with the packets' own durations, would be
~10x cheaper, but it would take the length from the same headers a liar writes, and miss
the corrupt frames a decode finds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from ..errors import AudioTooLong, UndecodableAudio, UnsupportedMediaType, UnsupportedSampleRate
from .ogg_pages import ogg_end_problem
from .riff_chunks import SampleChunk, find_sample_chunk
from .sniff import Sniffed, carries_foreign_document

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
class AudioLimits:
    """What one file's audio may cost, checked against what decodes (the settings
    `AUDIOSTORE_MAX_DURATION_SECONDS`, `AUDIOSTORE_MIN_SAMPLE_RATE` and
    `AUDIOSTORE_MAX_SAMPLE_RATE`)."""

    max_duration: float
    min_sample_rate: int
    max_sample_rate: int


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
    path: Path,
    sniffed: Sniffed,
    *,
    limits: AudioLimits,
    on_frame: Callable[[av.AudioFrame], None] | None = None,
) -> AudioFacts:
    """Decode the whole file; raise `UnsupportedMediaType` or `UndecodableAudio` if it is not
    playable audio of the sniffed container, `AudioTooLong` or `UnsupportedSampleRate` if
    it is outside `limits`. `on_frame` sees every decoded frame (loudness is measured from
    the same decode)."""
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
        if sniffed.format == "ogg" and (problem := ogg_end_problem(path)) is not None:
            raise UndecodableAudio(f"The audio is truncated: {problem}.")
        chunk = None
        if sniffed.format in ("wav", "aiff"):
            chunk = _checked_sample_chunk(path, sniffed.format)
        # Plain PCM in WAV/AIFF: every byte is a valid sample, so decoding it all would check
        # nothing the chunk sizes do not; its length is the sample chunk's bytes over the
        # bytes per sample frame of the first decoded packet (which proves the codec opens).
        # The header's own sample count is only the "declared" length checked below.
        pcm = chunk if codec.startswith("pcm_") and on_frame is None else None
        duration, sample_rate = _decode(container, stream, limits, on_frame, pcm)
        if duration == 0 or sample_rate == 0:
            raise UndecodableAudio("The file holds no decodable audio.")
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


def _checked_sample_chunk(path: Path, fmt: str) -> SampleChunk:
    """The WAV/AIFF sample chunk, once it is whole and nothing outside it is a document."""
    chunk = find_sample_chunk(path, fmt)
    if chunk is None:
        raise UndecodableAudio("The file's chunk list holds no sample data where its header says.")
    if chunk.truncated:
        raise UndecodableAudio(
            "The audio is truncated: its data chunk is shorter than its header says."
        )
    if carries_foreign_document(path, chunk.outside()):
        raise UnsupportedMediaType(
            "The file carries another kind of document (HTML or PDF) beside its audio; refused."
        )
    return chunk


def _decode(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    limits: AudioLimits,
    on_frame: Callable[[av.AudioFrame], None] | None,
    pcm: SampleChunk | None,
) -> tuple[float, int]:
    """Decode `stream` under `limits`: (seconds, last sample rate). With `pcm`, only the
    first packet is decoded and the length is the chunk's size in that packet's frames."""
    earlier = 0.0  # seconds decoded at earlier sample rates (chained Ogg, joined MP3s)
    samples, rate = 0, 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                if not frame.sample_rate:
                    raise UndecodableAudio("The audio decodes without a sample rate.")
                if frame.sample_rate != rate:
                    earlier += samples / rate if rate else 0.0
                    samples, rate = 0, frame.sample_rate
                    if not limits.min_sample_rate <= rate <= limits.max_sample_rate:
                        raise UnsupportedSampleRate(
                            f"The audio decodes at {rate} Hz; accepted are "
                            f"{limits.min_sample_rate}-{limits.max_sample_rate} Hz."
                        )
                if pcm is not None and packet.size and frame.samples:
                    samples = pcm.size * frame.samples // packet.size
                else:
                    samples += frame.samples
                if earlier + samples / rate > limits.max_duration:
                    raise AudioTooLong(
                        f"The audio runs longer than the {limits.max_duration:g} s this "
                        "service accepts (AUDIOSTORE_MAX_DURATION_SECONDS)."
                    )
                if on_frame is not None:
                    on_frame(frame)
                if pcm is not None:
                    return samples / rate, rate
    except (av.error.FFmpegError, ValueError) as exc:
        raise UndecodableAudio(f"The audio cannot be decoded: {exc}") from exc
    return earlier + (samples / rate if rate else 0.0), rate


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
