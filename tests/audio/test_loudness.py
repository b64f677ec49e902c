"""EBU R128 loudness: known tones measure what BS.1770 says they should."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from audio_factory import make_tone
from audiostore.audio.loudness import measure_loudness


@pytest.mark.parametrize(
    "channels,amplitude,expected_lufs",
    [
        # A 1 kHz sine of peak A has a mean square of A^2/2 per channel; K-weighting adds
        # +0.691 dB at 1 kHz, which the -0.691 offset cancels: L = 10 log10(sum A^2/2).
        (2, 0.1, -20.0),
        (1, 0.1, -23.01),
        (2, 0.5, -6.02),
    ],
)
def test_tone_loudness_within_half_lu(
    tmp_path: Path, channels: int, amplitude: float, expected_lufs: float
) -> None:
    path = make_tone(tmp_path / "t.wav", "wav", seconds=3.0, channels=channels,
                     frequency=1000.0, amplitude=amplitude)
    result = measure_loudness(path)
    assert result.integrated_lufs is not None
    assert abs(result.integrated_lufs - expected_lufs) <= 0.5
    assert result.true_peak_dbtp is not None
    assert abs(result.true_peak_dbtp - 20 * math.log10(amplitude)) <= 0.5


def test_silence_has_no_loudness(tmp_path: Path) -> None:
    path = make_tone(tmp_path / "s.wav", "wav", seconds=1.0, amplitude=0.0)
    assert measure_loudness(path).integrated_lufs is None
