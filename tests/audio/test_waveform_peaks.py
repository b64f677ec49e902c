"""Waveform peaks: exact min/max for a known signal; JSON and .dat agree; v1/v2 headers."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from audiostore.audio.waveform import compute_peaks, parse_dat

from waveform_signal import RATE, SPP, silence_then_square as make_signal


@pytest.fixture(scope="module")
def silence_then_square(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 pixels of silence, then 6.5 pixels of full-scale square wave (left channel only)."""
    return make_signal(tmp_path_factory.mktemp("wf") / "sq.wav", silent_pixels=4, square_pixels=6.5)


def pairs(data: list[int], channels: int) -> list[list[tuple[int, int]]]:
    flat = np.array(data).reshape(-1, channels, 2)
    return [[(int(mn), int(mx)) for mn, mx in px] for px in flat]


def test_exact_peaks_all_channels_16_bit(silence_then_square: Path) -> None:
    peaks = compute_peaks(silence_then_square, samples_per_pixel=SPP, bits=16, split_channels=True)
    doc = peaks.to_json()
    assert doc["version"] == 2 and doc["channels"] == 2 and doc["bits"] == 16
    assert doc["sample_rate"] == RATE and doc["samples_per_pixel"] == SPP
    assert doc["length"] == 11  # 10.5 pixels of audio: the last, partial one counts
    got = pairs(doc["data"], 2)
    assert got[:4] == [[(0, 0), (0, 0)]] * 4
    assert got[4:] == [[(-32768, 32767), (0, 0)]] * 7


def test_exact_peaks_mono_8_bit(silence_then_square: Path) -> None:
    peaks = compute_peaks(silence_then_square, samples_per_pixel=SPP, bits=8, split_channels=False)
    doc = peaks.to_json()
    assert doc["version"] == 1 and doc["channels"] == 1 and doc["bits"] == 8
    # Mono is the integer mean of the channels: (32767 + 0) / 2 -> 16383, then / 256 -> 63.
    assert pairs(doc["data"], 1) == [[(0, 0)]] * 4 + [[(-64, 63)]] * 7


def test_pixels_per_second_sets_the_scale(silence_then_square: Path) -> None:
    peaks = compute_peaks(silence_then_square, pixels_per_second=RATE // SPP, bits=16)
    assert peaks.samples_per_pixel == SPP and peaks.length == 11


@pytest.mark.parametrize("bits,split", [(8, False), (16, False), (8, True), (16, True)])
def test_dat_matches_json_and_header_table(silence_then_square: Path, bits: int, split: bool) -> None:
    peaks = compute_peaks(silence_then_square, samples_per_pixel=SPP, bits=bits, split_channels=split)
    dat = peaks.to_dat()
    doc = peaks.to_json()
    assert parse_dat(dat) == doc
    version, flags, rate, spp, length = struct.unpack_from("<iIiiI", dat)
    assert (version, rate, spp, length) == (doc["version"], RATE, SPP, 11)
    assert flags == (1 if bits == 8 else 0)
    offset = 24 if split else 20
    if split:
        assert struct.unpack_from("<i", dat, 20)[0] == 2
    assert len(dat) == offset + length * doc["channels"] * 2 * (bits // 8)
