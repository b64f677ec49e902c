"""`probe`: plain PCM is measured from its sample chunk (not decoded through), and says
exactly what a full decode says; a PCM file whose data chunk claims more than the file holds
is refused as truncated. Duration and sample rate are what decodes, held to the limits while
decoding (a bomb is refused without being decoded to its end); Ogg cut anywhere is
truncated; HTML or PDF outside a WAV's samples is a polyglot."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from audio_factory import OGG_FLAC, chunk_offsets, flac_silence_bomb, make_tone, riff_chunk, with_riff_size, write_wav
from audiostore.audio import AudioLimits, probe, sniff
from audiostore.errors import AudioTooLong, UndecodableAudio, UnsupportedMediaType, UnsupportedSampleRate
from audiostore.settings import Settings

_defaults = Settings()
LIMITS = AudioLimits(
    max_duration=_defaults.max_duration_seconds,
    min_sample_rate=_defaults.min_sample_rate,
    max_sample_rate=_defaults.max_sample_rate,
)


def sniffed(path: Path):  # noqa: ANN201 - a Sniffed
    data = path.read_bytes()
    return sniff(data[:4096], data[-65558:])


def facts(path: Path, limits: AudioLimits = LIMITS, **kw):  # noqa: ANN003,ANN201 - AudioFacts
    return probe(path, sniffed(path), limits=limits, **kw)


@pytest.mark.parametrize("fmt", ["wav", "aiff"])
def test_pcm_facts_from_the_header_equal_a_full_decode(tmp_path: Path, fmt: str) -> None:
    path = make_tone(tmp_path / f"tone.{fmt}", fmt, seconds=2.5, channels=2)
    from_header = facts(path)
    decoded = facts(path, on_frame=lambda frame: None)  # forces the full decode
    assert from_header == decoded
    assert from_header.duration == 2.5 and from_header.codec.startswith("pcm_")


def test_a_large_pcm_file_has_its_exact_length(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", 32 * 1024 * 1024, rate=48_000, channels=2)
    assert facts(path).duration == pytest.approx((32 * 1024 * 1024 - 44) // 4 / 48_000, abs=1e-6)


def test_a_pcm_file_shorter_than_its_header_is_truncated(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cut.wav", 4 * 1024 * 1024, declared_extra=1024 * 1024)
    with pytest.raises(UndecodableAudio, match="truncated"):
        facts(path)


# --- what audio may cost: limits on what decodes -----------------------------------------


def test_a_silence_bomb_is_refused_once_its_decode_passes_the_limit(tmp_path: Path) -> None:
    bomb = flac_silence_bomb(tmp_path / "bomb.flac", hours=100, rate=8000)
    assert bomb.stat().st_size < 700_000  # the 665 KB that decoded to 100 hours
    decoded = 0

    def count(frame: av.AudioFrame) -> None:
        nonlocal decoded
        decoded += frame.samples

    limit = AudioLimits(max_duration=3600, min_sample_rate=8000, max_sample_rate=384_000)
    with pytest.raises(AudioTooLong, match="longer than"):
        facts(bomb, limit, on_frame=count)
    # The decode stopped within one block of the limit, not at 100 hours.
    assert decoded <= 3600 * 8000
    with pytest.raises(AudioTooLong):
        facts(bomb)  # and at the default limit (4 h)


def test_the_duration_limit_is_exclusive_and_applies_to_plain_pcm(tmp_path: Path) -> None:
    tone = make_tone(tmp_path / "t.wav", "wav", seconds=3.0)
    limit = AudioLimits(max_duration=3.0, min_sample_rate=8000, max_sample_rate=384_000)
    assert facts(tone, limit).duration == 3.0
    with pytest.raises(AudioTooLong):
        facts(tone, AudioLimits(max_duration=2.9, min_sample_rate=8000, max_sample_rate=384_000))


def test_an_aiff_whose_header_claims_13_hours_over_5_seconds_is_refused(tmp_path: Path) -> None:
    data = bytearray(make_tone(tmp_path / "t.aiff", "aiff", seconds=5.0, channels=2).read_bytes())
    comm, _ = chunk_offsets(bytes(data))[b"COMM"]
    data[comm + 2 : comm + 6] = struct.pack(">I", 2**31 - 1)  # numSampleFrames: 13.5 h
    lying = tmp_path / "lying.aiff"
    lying.write_bytes(data)
    with pytest.raises(UndecodableAudio, match=r"declares 48695\.77 s but only 5\.00 s"):
        facts(lying)


def test_an_aiff_whose_header_claims_less_is_as_long_as_what_decodes(tmp_path: Path) -> None:
    data = bytearray(make_tone(tmp_path / "t.aiff", "aiff", seconds=5.0, channels=2).read_bytes())
    comm, _ = chunk_offsets(bytes(data))[b"COMM"]
    data[comm + 2 : comm + 6] = struct.pack(">I", 44100)  # says 1 s
    short = tmp_path / "short.aiff"
    short.write_bytes(data)
    assert facts(short).duration == 5.0
    assert facts(short, on_frame=lambda frame: None).duration == 5.0


def _wav_at_rate(tmp_path: Path, rate: int) -> Path:
    data = bytearray(make_tone(tmp_path / "t.wav", "wav", seconds=5.0).read_bytes())
    fmt, _ = chunk_offsets(bytes(data))[b"fmt "]
    data[fmt + 4 : fmt + 8] = struct.pack("<I", rate)
    path = tmp_path / f"at-{rate}.wav"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("rate", [1, 7999, 1_000_000])
def test_a_wav_patched_to_a_rate_outside_the_limits_is_refused(tmp_path: Path, rate: int) -> None:
    with pytest.raises(UnsupportedSampleRate, match=f"decodes at {rate} Hz"):
        facts(_wav_at_rate(tmp_path, rate))


def test_a_flac_at_1_hz_is_refused(tmp_path: Path) -> None:
    path = make_tone(tmp_path / "slow.flac", "flac", seconds=300, sample_rate=1)
    with pytest.raises(UnsupportedSampleRate, match="decodes at 1 Hz"):
        facts(path)
    assert facts(make_tone(tmp_path / "t.flac", "flac", seconds=1, sample_rate=8000)).sample_rate == 8000


# --- truncated Ogg -------------------------------------------------------------------------


def _ogg_page_ends(data: bytes) -> list[int]:
    ends, at = [], 0
    while at < len(data):
        assert data[at : at + 4] == b"OggS"
        segments = data[at + 26]
        at += 27 + segments + sum(data[at + 27 : at + 27 + segments])
        ends.append(at)
    return ends


@pytest.mark.parametrize("fmt", ["ogg", "opus", "oggflac"])
def test_whole_ogg_is_accepted_and_ends_with_an_end_of_stream_page(tmp_path: Path, fmt: str) -> None:
    path = make_tone(tmp_path / f"t.{fmt}", OGG_FLAC if fmt == "oggflac" else fmt, seconds=5.0, channels=2)
    data = path.read_bytes()
    last = _ogg_page_ends(data)[-2]
    assert data[last + 5] & 0x04  # what a complete file looks like: the flag the check wants
    assert facts(path).duration == pytest.approx(5.0, abs=0.01)


@pytest.fixture(scope="module")
def long_ogg(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """20 s of Vorbis, Opus and FLAC in Ogg: long enough that a cut at 20% keeps the
    headers whole, and so opens and decodes (a cut that does not is refused anyway)."""
    d = tmp_path_factory.mktemp("ogg")
    recipes = {"ogg": "ogg", "opus": "opus", "oggflac": OGG_FLAC}
    return {
        name: make_tone(d / f"t.{name}", recipe, seconds=20.0, channels=2).read_bytes()
        for name, recipe in recipes.items()
    }


@pytest.mark.parametrize(
    ("fmt", "fraction"),
    [("ogg", f) for f in (0.5, 0.6, 0.7, 0.8, 0.9)]
    + [("opus", f) for f in (0.2, 0.3, 0.5, 0.7, 0.9)]
    + [("oggflac", f) for f in (0.3, 0.6, 0.9)],
)
def test_ogg_cut_mid_page_is_truncated(
    tmp_path: Path, long_ogg: dict[str, bytes], fmt: str, fraction: float
) -> None:
    data = long_ogg[fmt]
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(UndecodableAudio, match="truncated"):
        facts(cut)


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_ogg_cut_at_a_page_boundary_is_truncated(tmp_path: Path, fmt: str) -> None:
    data = make_tone(tmp_path / f"t.{fmt}", fmt, seconds=5.0, channels=2).read_bytes()
    ends = _ogg_page_ends(data)
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: ends[len(ends) // 2]])
    with pytest.raises(UndecodableAudio, match="without its end-of-stream page"):
        facts(cut)


# --- polyglots --------------------------------------------------------------------------------

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _wav_parts(tmp_path: Path) -> tuple[bytes, bytes, bytes]:
    """A tone WAV split into (everything before the data chunk, the data chunk, the rest)."""
    data = make_tone(tmp_path / "t.wav", "wav", seconds=1.0).read_bytes()
    start, size = chunk_offsets(data)[b"data"]
    return data[: start - 8], data[start - 8 : start + size], data[start + size :]


def test_html_in_a_chunk_after_the_first_kib_is_a_polyglot(tmp_path: Path) -> None:
    before, samples, after = _wav_parts(tmp_path)
    page = riff_chunk(b"junk", b"\0" * 2000 + HTML)  # past the 1 KiB a browser sniffs
    path = tmp_path / "poly.wav"
    path.write_bytes(with_riff_size(before + page + samples + after))
    with pytest.raises(UnsupportedMediaType, match="another kind of document"):
        facts(path)


@pytest.mark.parametrize("as_chunk", [True, False])
def test_html_after_the_data_chunk_is_a_polyglot(tmp_path: Path, as_chunk: bool) -> None:
    before, samples, after = _wav_parts(tmp_path)
    path = tmp_path / "poly.wav"
    if as_chunk:
        path.write_bytes(with_riff_size(before + samples + after + riff_chunk(b"html", HTML)))
    else:  # bytes after the RIFF's declared end
        path.write_bytes(before + samples + after + HTML)
    with pytest.raises(UnsupportedMediaType, match="another kind of document"):
        facts(path)


def test_pdf_at_byte_44_is_a_polyglot(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "t.wav", 64 * 1024)
    data = bytearray(path.read_bytes())
    data[44:52] = b"%PDF-1.7"  # the first samples: where a PDF reader looks for its header
    with pytest.raises(UnsupportedMediaType):
        sniff(bytes(data[:4096]), bytes(data[-65558:]))


def test_metadata_chunks_and_their_xml_are_not_polyglots(tmp_path: Path) -> None:
    before, samples, after = _wav_parts(tmp_path)
    ixml = riff_chunk(b"iXML", b'<?xml version="1.0"?><BWFXML><PROJECT>take 3</PROJECT></BWFXML>')
    info = riff_chunk(b"LIST", b"INFO" + riff_chunk(b"INAM", b"Kids' story <one> & two\0"))
    path = tmp_path / "meta.wav"
    path.write_bytes(with_riff_size(before + ixml + samples + after + info + b"\0"))
    assert facts(path).duration == 1.0
