"""Text to speech: real-time factor per engine, and cache-hit latency vs a synthesis.

    .venv/bin/python bench/tts_speed.py [--sentences 40] [--hits 300] [--misses 40]

1. Real-time factor (RTF = synthesis seconds / seconds of audio; below 1 is faster than real
   time) of each engine that is on, measured in this process on sentences of 30-200
   characters. espeak-ng always; Piper when AUDIOSTORE_PIPER_VOICES names a folder with a
   voice; Polly is not measured (AWS is unreachable here).
2. `POST /v1/tts` against a real `audiostore serve` (granian, 1 worker, local disk + SQLite,
   pinned to one core; this client on the other): p50/p95 of requests that synthesise
   (unique text: synthesis + MP3 encode + probe + store + sign) vs identical requests
   answered from the cache (lookup + visibility check + a fresh signed URL).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import audiostore_serve, table  # noqa: E402

from audiostore.settings import Settings  # noqa: E402
from audiostore.tts import SynthesisOptions, build_registry  # noqa: E402

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright birds sing softly "
         "in the warm evening light near an old stone bridge").split()


def sentence(i: int, length: int) -> str:
    out: list[str] = []
    j = i
    while len(" ".join(out)) < length:
        out.append(WORDS[j % len(WORDS)])
        j += 7
    return (" ".join(out)[:length].rstrip() + ".").capitalize()


async def engine_rtf(n: int) -> list[list[object]]:
    registry = build_registry(Settings())
    rows: list[list[object]] = []
    for name in registry.names:
        if name == "polly":
            rows.append([name, "-", "-", "-", "not measured: AWS unreachable here"])
            continue
        engine = registry.engine(name)
        voices = await registry.voices_of(name)
        voice = next((v for v in voices if v.id == "en-us"), voices[0])
        await engine.synthesize("Warm up.", voice, SynthesisOptions())
        synth = audio = 0.0
        for i in range(n):
            text = sentence(i, 30 + (i * 37) % 170)
            started = time.perf_counter()
            speech = await engine.synthesize(text, voice, SynthesisOptions())
            synth += time.perf_counter() - started
            audio += speech.duration
        rows.append([name, voice.id, f"{audio:.1f}", f"{synth / audio:.4f}", f"{audio / synth:.0f}x real time"])
    if "piper" not in registry.names:
        rows.append(["piper", "-", "-", "-", "not measured: no voice (AUDIOSTORE_PIPER_VOICES unset)"])
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def http_latency(misses: int, hits: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp, audiostore_serve(Path(tmp)) as svc, svc.client() as c:
        body = {"voice": "en-us", "format": "mp3"}
        c.post("/v1/tts", json={**body, "text": "Warm up the server."}).raise_for_status()
        synth: list[float] = []
        for i in range(misses):
            started = time.perf_counter()
            r = c.post("/v1/tts", json={**body, "text": sentence(i, 80) + f" Number {i}."})
            synth.append(time.perf_counter() - started)
            assert r.status_code == 201 and not r.json()["cache_hit"], r.text
        cached: list[float] = []
        repeat = {**body, "text": sentence(0, 80) + " Number 0."}
        for _ in range(hits):
            started = time.perf_counter()
            r = c.post("/v1/tts", json=repeat)
            cached.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["cache_hit"], r.text
        return synth, cached


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--misses", type=int, default=40)
    parser.add_argument("--hits", type=int, default=300)
    args = parser.parse_args()

    print("Real-time factor (in process, one voice per engine)\n")
    print(table(asyncio.run(engine_rtf(args.sentences)),
                ["engine", "voice", "audio s", "RTF", "speed"]))

    synth, cached = http_latency(args.misses, args.hits)
    ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
    rows = [
        ["synthesis (unique text, mp3)", len(synth), ms(pct(synth, 0.5)), ms(pct(synth, 0.95)), ms(statistics.mean(synth))],
        ["cache hit (identical request)", len(cached), ms(pct(cached, 0.5)), ms(pct(cached, 0.95)), ms(statistics.mean(cached))],
    ]
    print("\nPOST /v1/tts latency, ms (real server, local disk + SQLite)\n")
    print(table(rows, ["request", "n", "p50", "p95", "mean"]))
    print(f"\ncache hit is {pct(synth, 0.5) / pct(cached, 0.5):.1f}x faster at p50, "
          f"{pct(synth, 0.95) / pct(cached, 0.95):.1f}x at p95")


if __name__ == "__main__":
    main()
