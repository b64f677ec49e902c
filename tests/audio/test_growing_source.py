"""Decoding an original while it arrives: `GrowingSource` waits for bytes not there yet,
answers the final size at once (so FFmpeg can probe and seek), fails with the download's
failure and stops when its job is cancelled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest

from audiostore.audio.growing_source import Arrival, GrowingSource
from audiostore.audio.live_copy import LiveCopy
from audiostore.audio.transcode import OutputProfile, transcode
from audiostore.errors import ShuttingDown
from clock_signal import write_clock_wav

CHUNK = 64 * 1024


def arrive_slowly(src: Path, dst: Path, arrival: Arrival, *, fail_at: int | None = None) -> threading.Thread:
    data = src.read_bytes()

    def run() -> None:
        with dst.open("wb") as f:
            for at in range(0, len(data), CHUNK):
                if fail_at is not None and at >= fail_at:
                    arrival.finish(OSError("the store went away"))
                    return
                f.write(data[at : at + CHUNK])
                f.flush()
                arrival.advance(len(data[at : at + CHUNK]))
                time.sleep(0.002)
        arrival.finish()

    dst.touch()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_an_encode_starts_before_the_source_has_arrived_and_ends_complete(tmp_path: Path) -> None:
    src = write_clock_wav(tmp_path / "clock.wav", 120)
    arrival = Arrival()
    writer = arrive_slowly(src, tmp_path / "arriving.wav", arrival)
    live = tmp_path / "live.opus"
    first_bytes_while_arriving = []

    def watch() -> None:
        while not arrival.complete:
            if live.exists() and live.stat().st_size > 0:
                first_bytes_while_arriving.append(arrival.arrived)
                return
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    source = GrowingSource(tmp_path / "arriving.wav", size=src.stat().st_size, arrival=arrival,
                           cancel=threading.Event())
    seconds = transcode(source, tmp_path / "out.opus", OutputProfile("opus", 64_000, 48_000, 2),
                        live=LiveCopy(live, "opus"))
    writer.join()
    watcher.join()
    assert first_bytes_while_arriving and first_bytes_while_arriving[0] < src.stat().st_size
    assert abs(seconds - 120) < 0.05
    with av.open(str(tmp_path / "out.opus")) as c:
        assert abs(sum(f.samples for f in c.decode(audio=0)) / 48_000 - 120) < 0.05


def test_a_failed_download_fails_the_encode(tmp_path: Path) -> None:
    src = write_clock_wav(tmp_path / "clock.wav", 60)
    arrival = Arrival()
    writer = arrive_slowly(src, tmp_path / "arriving.wav", arrival, fail_at=CHUNK * 8)
    source = GrowingSource(tmp_path / "arriving.wav", size=src.stat().st_size, arrival=arrival,
                           cancel=threading.Event())
    with pytest.raises(Exception, match="the store went away"):
        transcode(source, tmp_path / "out.mp3", OutputProfile("mp3", 64_000, 8000, 2))
    writer.join()


def test_a_cancelled_job_stops_waiting_for_bytes(tmp_path: Path) -> None:
    (tmp_path / "never.wav").write_bytes(b"")
    cancel = threading.Event()
    source = GrowingSource(tmp_path / "never.wav", size=1 << 20, arrival=Arrival(), cancel=cancel)
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(ShuttingDown):
        source.read(100)
