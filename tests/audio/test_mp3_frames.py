"""MP3 frame parsing: headers, any chunking, tag and Xing/Info frames dropped."""

from __future__ import annotations

from pathlib import Path

import av

from audio_factory import make_tone
from audiostore.audio.mp3_frames import Mp3FrameReader, iter_frames, parse_header
from audiostore.audio.transcode import OutputProfile, transcode


def test_parse_header_of_a_known_frame() -> None:
    # MPEG-1 Layer III, no CRC, 128 kbit/s, 44.1 kHz, no padding, joint stereo.
    h = parse_header(bytes([0xFF, 0xFB, 0x90, 0x64]))
    assert h is not None
    assert (h.version, h.bitrate, h.sample_rate, h.channels, h.padding) == (3, 128_000, 44100, 2, 0)
    assert h.length == 417 and h.samples == 1152
    assert parse_header(b"\xff\xfb\xf0\x64") is None  # bitrate index 15 is invalid
    assert parse_header(b"ID3\x04") is None


def test_reader_drops_id3_and_xing_in_any_chunking(tmp_path: Path) -> None:
    src = make_tone(tmp_path / "t.wav", "wav", seconds=1.0)
    mp3 = tmp_path / "t.mp3"
    transcode(src, mp3, OutputProfile("mp3", 128_000, 44100, 2))  # LAME writes Xing/Info
    data = b"ID3\x04\x00\x00\x00\x00\x00\x05hello" + mp3.read_bytes()
    whole = list(iter_frames([data]))
    byte_by_chunks = list(iter_frames([data[i : i + 7] for i in range(0, len(data), 7)]))
    assert [f.data for f in whole] == [f.data for f in byte_by_chunks]
    assert all(b"Xing" not in f.data[:64] and b"Info" not in f.data[:64] for f in whole)
    assert {f.header.profile for f in whole} == {(3, 44100, 2, 128_000)}
    with av.open(str(mp3)) as c:
        packets = [p for p in c.demux(c.streams.audio[0]) if p.size]
    assert len(whole) == len(packets)  # every audio frame FFmpeg sees, and nothing else


def test_standalone_profile_has_no_tags(tmp_path: Path) -> None:
    src = make_tone(tmp_path / "t.wav", "wav", seconds=1.0)
    mp3 = tmp_path / "q.mp3"
    transcode(src, mp3, OutputProfile("mp3", 128_000, 44100, 2, standalone_frames=True))
    reader = Mp3FrameReader()
    frames = reader.feed(mp3.read_bytes())
    assert sum(len(f.data) for f in frames) == mp3.stat().st_size
    assert reader.skipped_bytes == 0
