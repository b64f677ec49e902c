"""`probe`: plain PCM is measured from its header (not decoded through), and says exactly
what a full decode says; a PCM file whose data chunk claims more than the file holds is
refused as truncated."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_factory import make_tone, write_wav
from audiostore.audio import probe, sniff
from audiostore.errors import UndecodableAudio


def sniffed(path: Path):  # noqa: ANN201 - a Sniffed
    data = path.read_bytes()
    return sniff(data[:4096], data[-65558:])


@pytest.mark.parametrize("fmt", ["wav", "aiff"])
def test_pcm_facts_from_the_header_equal_a_full_decode(tmp_path: Path, fmt: str) -> None:
    path = make_tone(tmp_path / f"tone.{fmt}", fmt, seconds=2.5, channels=2)
    from_header = probe(path, sniffed(path))
    decoded = probe(path, sniffed(path), on_frame=lambda frame: None)  # forces the full decode
    assert from_header == decoded
    assert from_header.duration == 2.5 and from_header.codec.startswith("pcm_")


def test_a_large_pcm_file_has_its_exact_length(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", 32 * 1024 * 1024, rate=48_000, channels=2)
    facts = probe(path, sniffed(path))
    assert facts.duration == pytest.approx((32 * 1024 * 1024 - 44) // 4 / 48_000, abs=1e-6)


def test_a_pcm_file_shorter_than_its_header_is_truncated(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cut.wav", 4 * 1024 * 1024, declared_extra=1024 * 1024)
    with pytest.raises(UndecodableAudio, match="truncated"):
        probe(path, sniffed(path))
