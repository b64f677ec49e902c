"""Audio: transcode real-time factor per format, waveform time for one hour, queue listeners.

    .venv/bin/python bench/audio_speed.py [--transcode-seconds 120] [--listeners 100]
                                          [--listen-seconds 60] [--skip-hour]

1. Transcode: a stereo 44.1 kHz test signal (chords and noise) of `--transcode-seconds`,
   rendered into every rendition format with the service's own `transcode`, in this process.
   RTF = wall seconds / seconds of audio (below 1 is faster than real time).
2. One hour of audio (44.1 kHz stereo WAV, and the same hour as 128k MP3): waveform peaks
   (`compute_peaks`, 256 samples per pixel, 8-bit, mono) and EBU R128 loudness.
3. Queue listeners: `audiostore serve` (granian, 1 worker, local disk + SQLite) pinned to one
   core; `--listeners` clients in one asyncio process on the other core each read
   `stream.mp3?mode=loop` of a three-item queue for `--listen-seconds`. A listener keeps up
   when it has received at least playback speed (after the burst) the whole time. Server
   CPU is the serve process and its workers' user+system time over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CLIENT_CPU, audiostore_serve, table  # noqa: E402

from audiostore.audio.loudness import measure_loudness  # noqa: E402
from audiostore.audio.transcode import FORMATS, OutputProfile, transcode  # noqa: E402
from audiostore.audio.waveform import compute_peaks  # noqa: E402

RATE = 44_100


def signal_block(start: int, n: int, channels: int = 2) -> np.ndarray:
    """Music-like test signal: a slowly changing chord plus a little noise, int16 interleaved."""
    t = (start + np.arange(n)) / RATE
    chord = sum(0.15 * np.sin(2 * np.pi * f * t * (1 + 0.01 * np.sin(t / 7))) for f in (220, 277, 330, 440))
    rng = np.random.default_rng(start)
    mono = chord + 0.02 * rng.standard_normal(n)
    data = np.repeat(mono[:, None], channels, axis=1) * 32767
    return data.astype(np.int16).reshape(1, -1)


def write_signal(path: Path, seconds: float, fmt: str = "wav") -> Path:
    codec = {"wav": "pcm_s16le", "mp3": "libmp3lame"}[fmt]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=RATE, layout="stereo")
        if fmt == "mp3":
            stream.bit_rate = 128_000
        total = int(seconds * RATE)
        step = RATE * 10
        for start in range(0, total, step):
            n = min(step, total - start)
            frame = av.AudioFrame.from_ndarray(signal_block(start, n), format="s16", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def bench_transcode(work: Path, seconds: float) -> list[list[object]]:
    src = write_signal(work / "src.wav", seconds)
    rows: list[list[object]] = []
    for fmt, info in FORMATS.items():
        rate = 48_000 if fmt == "opus" else RATE
        profile = OutputProfile(fmt, info.default_bitrate, rate, 2)
        out = work / f"out.{info.ext}"
        t0 = time.perf_counter()
        transcode(src, out, profile)
        wall = time.perf_counter() - t0
        rows.append([fmt, f"{info.default_bitrate // 1000}k" if info.default_bitrate else "lossless",
                     f"{wall:.2f}", f"{wall / seconds:.4f}", f"{seconds / wall:.0f}x"])
    q = work / "queue.mp3"
    t0 = time.perf_counter()
    transcode(src, q, OutputProfile("mp3", 128_000, RATE, 2, standalone_frames=True))
    wall = time.perf_counter() - t0
    rows.append(["mp3 (queue profile)", "128k", f"{wall:.2f}", f"{wall / seconds:.4f}", f"{seconds / wall:.0f}x"])
    return rows


def bench_hour(work: Path) -> list[list[object]]:
    rows: list[list[object]] = []
    wav = write_signal(work / "hour.wav", 3600.0)
    mp3 = work / "hour.mp3"
    transcode(wav, mp3, OutputProfile("mp3", 128_000, RATE, 2))
    for path in (wav, mp3):
        t0 = time.perf_counter()
        peaks = compute_peaks(path, samples_per_pixel=256, bits=8)
        wf = time.perf_counter() - t0
        t0 = time.perf_counter()
        loud = measure_loudness(path)
        lu = time.perf_counter() - t0
        rows.append([path.suffix[1:], f"{path.stat().st_size / 1e6:.0f} MB", peaks.length,
                     f"{wf:.1f}", f"{lu:.1f}", f"{loud.integrated_lufs}"])
    wav.unlink()
    mp3.unlink()
    return rows


def _proc_stat(pid: int) -> tuple[int, float]:
    """(parent pid, user+system seconds) of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def cpu_seconds(root: int) -> float:
    """CPU seconds of `root` and every process below it (granian's workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = _proc_stat(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    wanted, total, changed = {root}, 0.0, True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        total += stats.get(pid, (0, 0.0))[1]
    return total


async def listen(url: str, headers: dict[str, str], seconds: float, burst: float, bitrate: int) -> tuple[int, bool]:
    """Bytes read, and whether the stream never fell behind playback after the burst."""
    got = 0
    kept_up = True
    per_second = bitrate / 8
    async with httpx.AsyncClient(timeout=30) as c, c.stream("GET", url, headers=headers) as r:
        r.raise_for_status()
        start = time.monotonic()
        async for chunk in r.aiter_raw():
            got += len(chunk)
            elapsed = time.monotonic() - start
            # After a second of slack, what a player has must cover what it has played.
            if elapsed > 1.0 and got < per_second * (elapsed - 1.0):
                kept_up = False
            if elapsed >= seconds:
                break
    return got, kept_up


def bench_listeners(work: Path, listeners: int, seconds: float) -> tuple[list[list[object]], dict[str, float]]:
    burst = 10.0
    items = [write_signal(work / f"item{i}.wav", 20.0 + 5 * i) for i in range(3)]
    env = {"AUDIOSTORE_QUEUE_BURST_SECONDS": str(burst), "AUDIOSTORE_SWEEP_IN_SERVE": "false"}
    with audiostore_serve(work, env=env) as srv:
        ids = [srv.upload(p) for p in items]
        with srv.client() as c:
            c.put("/v1/queues/bench", json={"audio_ids": ids}).raise_for_status()
            # Make the three queue renditions once, before measuring listeners.
            with c.stream("GET", "/v1/queues/bench/stream.mp3?mode=sequential") as r:
                for _ in r.iter_raw():
                    pass
        server = srv.proc.pid
        headers = {"Authorization": f"Bearer {srv.key}"}
        url = f"{srv.url}/v1/queues/bench/stream.mp3?mode=loop"

        async def run() -> list[tuple[int, bool]]:
            return await asyncio.gather(*[listen(url, headers, seconds, burst, 128_000) for _ in range(listeners)])

        cpu0, t0 = cpu_seconds(server), time.monotonic()
        results = asyncio.run(run())
        cpu1, t1 = cpu_seconds(server), time.monotonic()
    wall = t1 - t0
    kept = sum(1 for _, ok in results if ok)
    mbytes = sum(b for b, _ in results) / 1e6
    expected = listeners * 128_000 / 8 * (seconds + burst) / 1e6
    rows = [[listeners, f"{wall:.1f}", f"{kept}/{listeners}", f"{mbytes:.1f}", f"{expected:.1f}",
             f"{100 * (cpu1 - cpu0) / wall:.1f}%"]]
    return rows, {"cpu_pct_of_one_core": 100 * (cpu1 - cpu0) / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transcode-seconds", type=float, default=120.0)
    ap.add_argument("--listeners", type=int, default=100)
    ap.add_argument("--listen-seconds", type=float, default=60.0)
    ap.add_argument("--skip-hour", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    with tempfile.TemporaryDirectory(prefix="audiostore-bench-audio-") as tmp:
        work = Path(tmp)
        print(f"## Transcode ({args.transcode_seconds:.0f} s stereo 44.1 kHz source, one core)\n")
        print(table(bench_transcode(work, args.transcode_seconds), ["format", "bitrate", "wall s", "RTF", "speed"]))
        if not args.skip_hour:
            print("\n## One hour of audio: waveform peaks (256 spp, 8-bit, mono) and loudness\n")
            print(table(bench_hour(work), ["input", "size", "pixels", "waveform s", "loudness s", "LUFS"]))
        print(f"\n## Queue listeners (mode=loop, {args.listen_seconds:.0f} s each)\n")
        rows, _ = bench_listeners(work, args.listeners, args.listen_seconds)
        print(table(rows, ["listeners", "wall s", "kept up", "MB received", "MB at playback speed", "server CPU (of one core)"]))


if __name__ == "__main__":
    main()
