"""Players no one here wrote, the `mpv` and `ffmpeg`/`ffprobe` binaries, open signed URLs of a
real `audiostore serve` with no header and seek into an hour-long source: a first-time
rendition (the seek is its `start=`: during a first play the stream is not byte-seekable),
the HLS master playlist (`mpv --start`, `ffmpeg -ss`), and a clipped HLS playlist (which plays
just its span). What they played is written to WAV (`mpv --ao=pcm`) and read back with the
clock signal, so a seek that lands at the wrong time fails, not only one that errors.

`.ci/run` installs mpv and ffmpeg with apt; without them these tests skip, saying so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from clock_signal import position_of, write_clock_wav
from server_process import ServerProcess

MPV = shutil.which("mpv")
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_mpv = pytest.mark.skipif(
    MPV is None, reason="mpv is not installed (apt-get install mpv; .ci/run does this)"
)
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None or FFPROBE is None,
    reason="ffmpeg/ffprobe are not installed (apt-get install ffmpeg; .ci/run does this)",
)
# Generous (as in test_first_play_over_http): a first-time rendition's first audio comes in
# well under a second; encoding the hour first takes about a minute here, which this rules out.
FIRST_AUDIO_WITHIN = 20.0
PLAYER_TIMEOUT = 120.0  # a bounded wait for a player that hangs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    """A real server holding an hour of the clock signal (8 kHz stereo WAV: made in seconds)."""
    where = tmp_path_factory.mktemp("players")
    source = write_clock_wav(where / "clock-1h.wav", 3600)
    proc = ServerProcess(where / "data", env={"AUDIOSTORE_MAX_UPLOAD_BYTES": str(256 << 20)}).start()
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


def signed(server: tuple[ServerProcess, str, str], **body: object) -> str:
    proc, key, audio_id = server
    r = httpx.post(
        f"{proc.url}/v1/audio/{audio_id}/url", headers={"Authorization": f"Bearer {key}"},
        json=body, timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def clock_at(wav: Path, seconds: float) -> float:
    """The clock time heard `seconds` into a WAV a player wrote."""
    with av.open(str(wav)) as c:
        rate = c.streams.audio[0].codec_context.sample_rate
        parts = []
        for frame in c.decode(audio=0):
            x = frame.to_ndarray()
            parts.append(x if frame.format.is_planar else x.reshape(-1, 2).T)
    samples = np.concatenate(parts, axis=1)
    first = int(seconds * rate)
    assert samples.shape[1] >= first + rate // 4, f"{wav.name}: only {samples.shape[1] / rate:.2f} s"
    return position_of(samples[:, first : first + rate // 4], rate)


def mpv(url: str, out: Path, *args: str) -> float:
    """Play 2 s of `url` headless into `out` (WAV); the seconds it took. Fails unless mpv
    exits 0."""
    assert MPV is not None
    began = time.monotonic()
    done = subprocess.run(
        [MPV, "--no-config", "--no-video", "--ao=pcm", f"--ao-pcm-file={out}", "--length=2",
         "--msg-level=all=warn", *args, url],
        capture_output=True, text=True, timeout=PLAYER_TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - began


def ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    done = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", *args], capture_output=True, text=True,
        timeout=PLAYER_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr


@needs_mpv
@pytest.mark.parametrize("fmt", ["mp3", "aac", "opus"])
def test_mpv_plays_a_first_time_rendition_from_where_it_asks(
    server: tuple[ServerProcess, str, str], fmt: str, tmp_path: Path
) -> None:
    url = signed(server, format=fmt, start=2468.5)
    seconds = mpv(url, tmp_path / "out.wav")
    assert seconds < FIRST_AUDIO_WITHIN
    assert abs(clock_at(tmp_path / "out.wav", 0.5) - 2469.0) < 1.0


@needs_mpv
def test_mpv_seeks_an_hls_playlist_of_an_hour(
    server: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    seconds = mpv(signed(server, hls=True), tmp_path / "out.wav", "--start=2468")
    assert seconds < FIRST_AUDIO_WITHIN  # the seek fetched a segment near 2468 s, not the hour
    assert abs(clock_at(tmp_path / "out.wav", 0.5) - 2468.5) < 1.0


@needs_mpv
def test_mpv_plays_a_clipped_hls_playlist_from_its_start(
    server: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    url = signed(server, hls=True, start=1800, end=1812.5)
    mpv(url, tmp_path / "from-start.wav")
    assert abs(clock_at(tmp_path / "from-start.wav", 0.5) - 1800.5) < 1.0
    mpv(url, tmp_path / "in-clip.wav", "--start=5")  # a seek within the clip
    assert abs(clock_at(tmp_path / "in-clip.wav", 0.5) - 1805.5) < 1.0


@needs_ffmpeg
def test_ffmpeg_seeks_an_hls_playlist_of_an_hour(
    server: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out.wav"
    ffmpeg("-ss", "2468", "-i", signed(server, hls=True), "-t", "2", "-y", str(out))
    assert abs(clock_at(out, 0.5) - 2468.5) < 1.0


@needs_ffmpeg
def test_ffprobe_and_ffmpeg_take_a_clipped_playlist_for_just_its_span(
    server: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    url = signed(server, hls=True, start=1800, end=1812.5)
    assert FFPROBE is not None
    probed = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration,start_time", "-of", "json", url],
        capture_output=True, text=True, timeout=PLAYER_TIMEOUT,
    )
    assert probed.returncode == 0, probed.stderr
    fmt = json.loads(probed.stdout)["format"]
    assert abs(float(fmt["duration"]) - 12.5) < 0.05
    assert abs(float(fmt["start_time"]) - 1800) < 0.2  # on the source's clock
    out = tmp_path / "clip.wav"
    ffmpeg("-i", url, "-y", str(out))
    with av.open(str(out)) as c:
        played = float(c.duration or 0) / av.time_base
    # Each segment is its own AAC encode and brings its 1024-sample priming frame (0.128 s at
    # this 8 kHz source), which FFmpeg's HLS reader plays: three segments, at most 0.4 s over.
    assert 12.4 < played < 12.5 + 3 * 0.15, played
    assert abs(clock_at(out, 0.3) - 1800.3) < 1.0
    assert abs(clock_at(out, played - 0.5) - 1812.0) < 1.0
