"""Time to the first audio byte: streamed `POST /v1/audio/speech` vs `POST /v1/tts`.

    .venv/bin/python bench/speech_first_byte.py [--repeats 5] [--sentences 3,20,60]

Against a real `audiostore serve` (granian, 1 worker, local disk + SQLite, pinned to one core;
this client on the other), every request with a text never asked before (no cache hit), MP3:

- `/v1/tts`: the JSON answer comes once the whole text is synthesised, encoded, probed and
  stored; the first audio byte is the first byte of a GET of its signed `url` after that.
- `/v1/tts` with `stream: true` and `/v1/audio/speech`: the first byte of the streamed body.

Also the time to the last byte of the streamed speech (the whole text), for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import audiostore_serve, table  # noqa: E402

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright birds sing softly "
         "in the warm evening light near an old stone bridge").split()


def text_of(run: int, sentences: int) -> str:
    return " ".join(
        f"Run {run} sentence {i}: " + " ".join(WORDS[(i * 5 + k) % len(WORDS)] for k in range(10)) + "."
        for i in range(sentences)
    )


def first_byte_streamed(c: httpx.Client, path: str, body: dict[str, object]) -> tuple[float, float]:
    started = time.perf_counter()
    with c.stream("POST", path, json=body) as r:
        r.raise_for_status()
        chunks = r.iter_raw()
        next(chunks)
        first = time.perf_counter() - started
        for _ in chunks:
            pass
    return first, time.perf_counter() - started


def first_byte_stored(c: httpx.Client, body: dict[str, object]) -> float:
    started = time.perf_counter()
    r = c.post("/v1/tts", json=body)
    r.raise_for_status()
    with c.stream("GET", r.json()["url"]) as audio:
        next(audio.iter_raw())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sentences", default="3,20,60")
    args = parser.parse_args()
    counts = [int(n) for n in args.sentences.split(",")]
    rows: list[list[object]] = []
    run = int(time.time())
    with tempfile.TemporaryDirectory() as tmp, audiostore_serve(Path(tmp)) as svc, svc.client() as c:
        c.timeout = httpx.Timeout(300)
        first_byte_streamed(c, "/v1/audio/speech", {"model": "tts-1", "voice": "alloy", "input": "Warm up."})
        for n in counts:
            stored, tts_stream, speech, whole = [], [], [], []
            for rep in range(args.repeats):
                run += 1
                stored.append(first_byte_stored(c, {"text": text_of(run, n), "format": "mp3"}))
                run += 1
                tts_stream.append(first_byte_streamed(c, "/v1/tts", {"text": text_of(run, n), "format": "mp3", "stream": True})[0])
                run += 1
                first, last = first_byte_streamed(c, "/v1/audio/speech", {
                    "model": "tts-1", "voice": "alloy", "input": text_of(run, n), "response_format": "mp3"})
                speech.append(first)
                whole.append(last)
            ms = lambda v: f"{statistics.median(v) * 1000:.0f}"  # noqa: E731
            rows.append([n, len(text_of(0, n)), ms(stored), ms(tts_stream), ms(speech), ms(whole),
                         f"{statistics.median(stored) / statistics.median(speech):.1f}x"])
    print("Time to first audio byte, ms (median of", args.repeats, "), mp3, real server\n")
    print(table(rows, ["sentences", "chars", "/v1/tts then GET url", "/v1/tts stream", "/v1/audio/speech",
                       "speech last byte", "first byte sooner"]))


if __name__ == "__main__":
    main()
