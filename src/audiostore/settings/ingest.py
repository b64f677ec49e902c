"""What an upload may be: its size, formats, decoded length and sample rate, its default
collection and lifetime, and how long its idempotency key is remembered."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from .group import CommaList, SettingsGroup

DEFAULT_FORMATS = ("wav", "mp3", "aac", "m4a", "ogg", "opus", "flac", "webm", "aiff")


class IngestSettings(SettingsGroup):
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, description="Largest accepted upload; reading stops at the limit."
    )
    accepted_formats: CommaList = Field(
        list(DEFAULT_FORMATS),
        description="Comma-separated container formats accepted at upload.",
    )
    default_collection: str = Field("default", description="Collection used when none is given.")
    max_duration_seconds: float = Field(
        4 * 3600.0,
        description="Longest audio accepted at upload (and from TTS), measured by decoding it, "
        "never from its header; the decode stops as soon as it passes this. Every later decode "
        "(loudness, renditions, waveforms) costs CPU in proportion to duration, so this is "
        "what bounds what a small file can cost (a 665 KB FLAC of silence decodes to 100 h). "
        "4 h keeps the longest audio the seeds describe (a kids' player's stories and "
        "audiobook parts, a DAW's takes, recorded coaching sessions) and is about what "
        "AUDIOSTORE_MAX_UPLOAD_BYTES holds at 56 kbit/s; decoding 4 h at ingest takes "
        "roughly 10-20 s of one core here. Raise it for whole audiobooks in one file.",
    )
    min_sample_rate: int = Field(
        8000,
        description="Lowest decoded sample rate accepted (Hz): 8 kHz is telephone speech, the "
        "lowest rate of any common codec; a 1 Hz header stretches a few bytes into days of audio.",
    )
    max_sample_rate: int = Field(
        384_000,
        description="Highest decoded sample rate accepted (Hz): decoding costs per sample, so "
        "this keeps the duration limit a CPU limit; 384 kHz covers DXD studio masters.",
    )
    collection_ttls: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="Default lifetime per collection for uploads that give no `ttl_seconds` "
        "or `expires_at`, e.g. `tts=24h,scratch=1h` (units s, m, h, d, w).",
    )
    idempotency_ttl_seconds: int = Field(
        86400,
        description="How long an upload's `Idempotency-Key` is remembered: a retry with the "
        "same key and body within this time answers the first result.",
    )

    @field_validator("collection_ttls", mode="before")
    @classmethod
    def _ttls(cls, value: object) -> object:
        from ..durations import parse_collection_ttls

        return parse_collection_ttls(value) if isinstance(value, str) else value

    @field_validator("accepted_formats")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]

    def problems(self) -> list[str]:
        problems: list[str] = []
        if self.max_upload_bytes < 1:
            problems.append("AUDIOSTORE_MAX_UPLOAD_BYTES must be positive.")
        if not self.max_duration_seconds > 0:
            problems.append("AUDIOSTORE_MAX_DURATION_SECONDS must be positive.")
        if self.min_sample_rate < 1:
            problems.append("AUDIOSTORE_MIN_SAMPLE_RATE must be at least 1 Hz.")
        if self.min_sample_rate > self.max_sample_rate:
            problems.append(
                "AUDIOSTORE_MIN_SAMPLE_RATE is above AUDIOSTORE_MAX_SAMPLE_RATE "
                f"({self.min_sample_rate} > {self.max_sample_rate})."
            )
        return problems
