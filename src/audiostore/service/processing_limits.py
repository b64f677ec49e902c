"""The budget each kind of work on a stored object gets (`AUDIOSTORE_PROCESSING_*`).

CPU time follows the source's size, what the client paid for, so a small file never buys
hours of CPU however long it decodes. Output and decoded seconds follow the stored duration
(measured by a decode at ingest): decoding far past it, or writing far more than it implies,
means the file is not what it was taken for, and the work stops there.
"""

from __future__ import annotations

from ..audio.transcode import OutputProfile, format_info
from ..audio.work_budget import WorkBudget
from ..catalog import AudioRow
from ..settings import ProcessingSettings

_MIB = 1 << 20
# Room over what the stored duration implies: VBR codecs overshoot their target a little,
# containers add headers and an index.
_OUTPUT_MARGIN, _OUTPUT_SLACK = 2.0, _MIB
_SECONDS_MARGIN, _SECONDS_SLACK = 1.05, 5.0


def cpu_seconds_for(settings: ProcessingSettings, source_bytes: int) -> float:
    allowed = settings.processing_cpu_seconds_min + settings.processing_cpu_seconds_per_mib * (
        source_bytes / _MIB
    )
    return min(settings.processing_cpu_seconds_max, allowed)


def _seconds_for(row: AudioRow) -> float:
    return row.duration * _SECONDS_MARGIN + _SECONDS_SLACK


def _output_for(settings: ProcessingSettings, expected_bytes: float) -> int:
    implied = expected_bytes * _OUTPUT_MARGIN + _OUTPUT_SLACK
    return int(min(settings.processing_max_output_bytes, implied))


def analysis_budget(settings: ProcessingSettings, row: AudioRow) -> WorkBudget:
    return WorkBudget(
        cpu_seconds=cpu_seconds_for(settings, row.size), max_audio_seconds=_seconds_for(row)
    )


def rendition_budget(settings: ProcessingSettings, row: AudioRow, profile: OutputProfile) -> WorkBudget:
    info = format_info(profile.format)
    if info.lossy and profile.bitrate:
        per_second = profile.bitrate / 8
    else:  # 16-bit PCM, which FLAC never exceeds by more than its frame headers
        per_second = profile.sample_rate * profile.channels * 2
    return WorkBudget(
        cpu_seconds=cpu_seconds_for(settings, row.size),
        max_output_bytes=_output_for(settings, per_second * row.duration),
        max_audio_seconds=_seconds_for(row),
    )


def waveform_budget(
    settings: ProcessingSettings, row: AudioRow, *, pixels: float, channels: int, bits: int
) -> WorkBudget:
    return WorkBudget(
        cpu_seconds=cpu_seconds_for(settings, row.size),
        max_output_bytes=_output_for(settings, pixels * channels * 2 * (bits // 8)),
        max_audio_seconds=_seconds_for(row),
    )
