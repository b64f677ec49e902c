"""A first play as a player built on FFmpeg sees it: PyAV (FFmpeg's own HTTP client and
demuxers, in process; the mpv and ffmpeg binaries: test_players_seek_an_hour.py) opens
first-time rendition URLs of an hour-long source on a real `audiostore serve`, signed URLs
with no header.

It decodes audio long before the hour could have been encoded, at the right time: from the
start, or from a `start=` offset (a seek during the first play).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from clock_signal import position_of, write_clock_wav
from server_process import ServerProcess

# Generous: a first byte comes in a fraction of a second (BENCHMARKS.md); encoding the whole
# hour takes minutes here (AAC about 10x real time on a loaded core), which this rules out.
FIRST_AUDIO_WITHIN = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    where = tmp_path_factory.mktemp("first-play")
    source = write_clock_wav(where / "clock-1h.wav", 3600)
    proc = ServerProcess(
        where / "data", env={"AUDIOSTORE_MAX_UPLOAD_BYTES": str(256 << 20)}
    ).start()
    try:
        key = (where / "data" / "admin.key").read_text().strip()
        with source.open("rb") as f:
            r = httpx.post(
                f"{proc.url}/v1/audio", headers={"Authorization": f"Bearer {key}"},
                files={"file": ("clock.wav", f, "audio/wav")}, timeout=120,
            )
        assert r.status_code == 201, r.text
        yield proc, key, r.json()["id"]
    finally:
        proc.stop()


def signed(server: tuple[ServerProcess, str, str], **params: object) -> str:
    proc, key, audio_id = server
    r = httpx.post(
        f"{proc.url}/v1/audio/{audio_id}/url", headers={"Authorization": f"Bearer {key}"},
        json=params, timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def first_second(url: str) -> tuple[float, np.ndarray, int]:
    """Seconds until FFmpeg had decoded 1.5 s of `url`, and those samples (2, n)."""
    began = time.monotonic()
    parts: list[np.ndarray] = []
    with av.open(url, timeout=60) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in c.decode(stream):
            x = frame.to_ndarray()
            parts.append(x if frame.format.is_planar else x.reshape(-1, 2).T)
            if sum(p.shape[1] for p in parts) >= 1.5 * rate:
                break
    return time.monotonic() - began, np.concatenate(parts, axis=1), rate


@pytest.mark.parametrize("fmt", ["mp3", "aac", "opus"])
def test_ffmpeg_plays_a_first_time_rendition_of_an_hour_at_once(
    server: tuple[ServerProcess, str, str], fmt: str
) -> None:
    seconds, samples, rate = first_second(signed(server, format=fmt))
    assert seconds < FIRST_AUDIO_WITHIN
    assert abs(position_of(samples[:, int(0.5 * rate) : int(0.75 * rate)], rate) - 0.5) < 1.0


@pytest.mark.parametrize("fmt", ["mp3", "aac", "opus"])
def test_ffmpeg_seeks_a_first_play_with_a_time_offset(
    server: tuple[ServerProcess, str, str], fmt: str
) -> None:
    seconds, samples, rate = first_second(signed(server, format=fmt, start=2468.5))
    assert seconds < FIRST_AUDIO_WITHIN
    assert abs(position_of(samples[:, int(0.5 * rate) : int(0.75 * rate)], rate) - 2469.0) < 1.0


def test_a_head_of_a_first_time_rendition_answers_at_once_and_starts_nothing(
    server: tuple[ServerProcess, str, str]
) -> None:
    proc, key, audio_id = server
    url = signed(server, format="mp3", bitrate="64k")
    r = httpx.head(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert "content-length" not in r.headers
    got = httpx.get(f"{proc.url}/v1/audio/{audio_id}", headers={"Authorization": f"Bearer {key}"})
    assert all(d["bitrate"] != 64000 for d in got.json()["renditions"])
