"""Time to first byte of first-time renditions: streamed first play vs the full transcode.

    .venv/bin/python bench/first_byte.py [--rounds 3] [--hour-baseline]

`audiostore serve` (granian, 1 worker, local disk + SQLite) pinned to one core; the client on
the other. Sources: clock-signal WAVs (16 kHz stereo, `tests/clock_signal.py`) of 10 minutes
and 1 hour. For each source and format (mp3, aac, opus) and round, a rendition never asked
for before (each round another bit rate) is requested with an API key; TTFB is the time from
sending the request to the first body byte. The client then hangs up (the encode is
cancelled). A seek (`start=1800`), a HEAD and HLS (playlists, then whole first-time segments
at 0 and 30 min) are timed on the hour too.

Baseline: the same server with `AUDIOSTORE_RENDITION_WHOLE_FIRST_SECONDS=1e9`, i.e. every
rendition made whole before its first byte (what every first request did before): the
10-minute source, each format once; the hour only with `--hour-baseline` (minutes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

from harness import REPO, audiostore_serve, table, workdir

sys.path.insert(0, str(REPO / "tests"))
from clock_signal import write_clock_wav  # noqa: E402

FORMATS = ("mp3", "aac", "opus")
BITRATES = ("96k", "112k", "128k", "80k", "64k")
UPLOAD_LIMIT = str(512 << 20)


def ttfb(client: httpx.Client, url: str, *, method: str = "GET") -> float:
    began = time.perf_counter()
    with client.stream(method, url) as r:
        r.raise_for_status()
        if method == "HEAD":
            return time.perf_counter() - began
        for chunk in r.iter_raw():
            if chunk:
                return time.perf_counter() - began
    raise RuntimeError(f"{url}: no body")


def hls_times(client: httpx.Client, audio_id: str) -> dict[str, float]:
    """Master playlist, media playlist, then segments never made before: the first, one at
    30 min (a seek) and the one after it, each fetched whole."""
    out: dict[str, float] = {}
    began = time.perf_counter()
    master = client.get(f"/v1/audio/{audio_id}/hls/index.m3u8")
    master.raise_for_status()
    out["master"] = time.perf_counter() - began
    variant = [line for line in master.text.splitlines() if line.startswith("http")][0]
    began = time.perf_counter()
    media = client.get(variant)
    media.raise_for_status()
    out["media playlist (600 signed URLs)"] = time.perf_counter() - began
    segments = [line for line in media.text.splitlines() if line.startswith("http")]
    for name, n in (("segment 0", 0), ("segment 300", 300), ("segment 301", 301)):
        began = time.perf_counter()
        client.get(segments[n]).raise_for_status()
        out[name] = time.perf_counter() - began
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hour-baseline", action="store_true")
    args = ap.parse_args()
    rows: list[list[object]] = []
    with workdir() as tmp:
        work = Path(tmp)
        sources = {
            "10 min": write_clock_wav(work / "clock-10min.wav", 600, rate=16000),
            "1 h": write_clock_wav(work / "clock-1h.wav", 3600, rate=16000),
        }
        streamed: dict[tuple[str, str], list[float]] = {}
        (work / "fast").mkdir()
        (work / "whole").mkdir()
        with audiostore_serve(work / "fast", env={"AUDIOSTORE_MAX_UPLOAD_BYTES": UPLOAD_LIMIT}) as srv:
            ids = {name: srv.upload(path) for name, path in sources.items()}
            time.sleep(3)  # let the loudness analysis after the uploads start (it keeps running)
            with srv.client() as c:
                for name, audio_id in ids.items():
                    for fmt in FORMATS:
                        for i in range(args.rounds):
                            url = f"/v1/audio/{audio_id}/content?format={fmt}&bitrate={BITRATES[i]}"
                            streamed.setdefault((name, fmt), []).append(ttfb(c, url))
                hour = ids["1 h"]
                seek = [ttfb(c, f"/v1/audio/{hour}/content?format=mp3&start={1800 + i}")
                        for i in range(args.rounds)]
                head = [ttfb(c, f"/v1/audio/{hour}/content?format=aac&bitrate=48k", method="HEAD")
                        for _ in range(args.rounds)]
                hls = hls_times(c, hour)
        whole: dict[tuple[str, str], float] = {}
        env = {"AUDIOSTORE_MAX_UPLOAD_BYTES": UPLOAD_LIMIT, "AUDIOSTORE_RENDITION_WHOLE_FIRST_SECONDS": "1e9"}
        with audiostore_serve(work / "whole", env=env) as srv:
            names = ["10 min", "1 h"] if args.hour_baseline else ["10 min"]
            ids = {name: srv.upload(sources[name]) for name in names}
            with srv.client() as c:
                for name in names:
                    for fmt in FORMATS:
                        whole[(name, fmt)] = ttfb(c, f"/v1/audio/{ids[name]}/content?format={fmt}")
    for (name, fmt), times in streamed.items():
        median = statistics.median(times)
        base = whole.get((name, fmt))
        rows.append([
            name, fmt, f"{median * 1000:.0f} ms", f"{max(times) * 1000:.0f} ms",
            f"{base:.1f} s" if base else "-", f"{base / median:.0f}x" if base else "-",
        ])
    print(table(rows, ["source", "format", "TTFB median", "TTFB max", "whole first (before)", "faster"]))
    print(f"\nseek start=1800 into the hour, mp3: median {statistics.median(seek) * 1000:.0f} ms, "
          f"max {max(seek) * 1000:.0f} ms")
    print(f"HEAD of a first-time rendition of the hour: median {statistics.median(head) * 1000:.0f} ms")
    print("HLS of the hour (first-time segments): " + ", ".join(
        f"{name} {seconds * 1000:.0f} ms" for name, seconds in hls.items()))


if __name__ == "__main__":
    main()
