"""What is made from stored audio (renditions, loudness, waveforms) and what one such decode
may cost."""

from __future__ import annotations

from pydantic import Field

from .group import CommaList, SettingsGroup


class ProcessingSettings(SettingsGroup):
    ingest_renditions: CommaList = Field(
        default_factory=list,
        description="Comma-separated renditions made at upload, each `format` or "
        "`format:bitrate` (e.g. `mp3,opus:64k`); `webm->mp3` limits one to uploads of that "
        "format. Unset: renditions are made on first request only.",
    )
    loudness_target_lufs: float = Field(
        -16.0, description="Integrated loudness (LUFS) `?normalize=true` renditions aim at."
    )
    loudness_max_true_peak: float = Field(
        -1.0, description="Ceiling (dBTP) normalisation gain never pushes the true peak above."
    )
    rendition_whole_first_seconds: float = Field(
        10.0, ge=0, description="A first request for a rendition of at most this many seconds "
        "waits for it to be made whole (a few tenths of a second), then gets it with a length, "
        "ETag and Range; a longer one is streamed as it is encoded (no Content-Length) while "
        "the complete rendition is stored for later requests."
    )
    # A few hundred KB of FLAC can decode to a hundred hours: the CPU a job may use follows
    # what the client paid for (the stored bytes), not what the file claims to hold.
    processing_cpu_seconds_per_mib: float = Field(
        60.0, gt=0, description="CPU seconds one analysis, rendition or waveform may use per "
        "MiB of its source (plus the minimum below); past it the work stops.",
    )
    processing_cpu_seconds_min: float = Field(
        30.0, gt=0, description="CPU seconds every analysis, rendition or waveform may use "
        "whatever its source's size.",
    )
    processing_cpu_seconds_max: float = Field(
        900.0, gt=0, description="CPU seconds no analysis, rendition or waveform may pass, "
        "however large its source.",
    )
    processing_max_output_bytes: int = Field(
        2 * 1024**3, gt=0, description="Largest rendition or waveform one job may write. Each "
        "is also bounded by what its stored duration implies (twice that, plus 1 MiB).",
    )
