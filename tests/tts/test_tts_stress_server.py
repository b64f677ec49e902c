"""50 concurrent TTS requests of hostile texts and 10 concurrent decode-bomb uploads against a
real `audiostore serve` with two workers: every one is answered (spoken or stored, refused
with a 4xx, or 502 `engine_failed` when the engine crashed), health keeps answering
meanwhile, and SIGTERM then stops every process of the server within 10 s, while the bombs
that were stored may still be under analysis (issue 11).

"Keeps answering" is checked with a bounded client timeout, not a latency figure: a test
that asserts timing passes only on a quiet machine."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from audio_factory import flac_silence_bomb
from tts_support import ESPEAK_CRASHERS

from server_process import ServerProcess, children_of

REQUESTS = 50
BOMBS = 10  # half decode to 100 hours (refused at ingest), half to 1 hour (stored, analysed)

HOSTILE: list[dict[str, Any]] = [
    *({"text": t} for t in ESPEAK_CRASHERS),
    {"text": ESPEAK_CRASHERS[0], "segments": True},
    {"text": "U.S." * 150, "voice": "de"},
    {"text": "A.B.C." * 100, "voice": "fr-fr", "format": "opus"},
    {"text": "Hello there, this is a normal sentence."},
    {"text": "Dr. Mr. Mrs. St. Jr. e.g. i.e. etc. " * 15, "format": "wav"},
    {"text": "😀🎉👍" * 30},
    {"text": "مرحبا بالعالم " * 8, "voice": "ar"},
    {"text": "e\u0301\u0302\u0303" * 150},
    {"text": "1234567890" * 30},
    {"text": "<speak><prosody rate='x-fast'>hi</prosody></speak>" * 3},
    {"text": "..." * 300},
    {"text": "\u200b" * 500},
    {"text": "x" * 6000},  # over AUDIOSTORE_TTS_MAX_TEXT_CHARS: 422
    {"text": "nul \u0000 byte"},
    {"text": "hi", "voice": "xx-nowhere"},
    {"text": "hi", "speed": 99},
    {"text": "One. Two. Three. " * 3, "segments": True, "format": "mp3"},
]


def _body(i: int) -> dict[str, Any]:
    body = dict(HOSTILE[i % len(HOSTILE)])
    body.setdefault("speed", 1.0 + (i // len(HOSTILE)) / 10)  # no two requests share a cache entry
    body.setdefault("format", "wav")  # the engine is under test, not the encoders
    return body


def _acceptable(r: httpx.Response) -> bool:
    if r.status_code in (200, 201) or 400 <= r.status_code < 500:
        return True
    return r.status_code == 502 and r.json()["error"]["code"] == "engine_failed"


def _bomb_acceptable(r: httpx.Response, hours: float) -> bool:
    if hours > 4:  # past AUDIOSTORE_MAX_DURATION_SECONDS' default
        return r.status_code == 422 and r.json()["error"]["code"] == "audio_too_long"
    return r.status_code == 201


async def _storm(
    url: str, key: str, bombs: list[bytes]
) -> tuple[list[httpx.Response | BaseException], list[httpx.Response | BaseException], list[int]]:
    headers = {"Authorization": f"Bearer {key}"}
    health: list[int] = []
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=REQUESTS + BOMBS + 5)) as client:
        tts = asyncio.gather(
            *[client.post("/v1/tts", headers=headers, json=_body(i)) for i in range(REQUESTS)],
            return_exceptions=True,
        )
        uploads = asyncio.gather(
            *[client.post("/v1/audio", headers=headers, files={"file": (f"bomb{i}.flac", b)})
              for i, b in enumerate(bombs)],
            return_exceptions=True,
        )
        async with httpx.AsyncClient(base_url=url, timeout=5) as watcher:
            deadline = time.monotonic() + 120
            while not (tts.done() and uploads.done()) and time.monotonic() < deadline:
                health.append((await watcher.get("/v1/health")).status_code)
                await asyncio.sleep(0.1)
        answers, stored = await tts, await uploads
    return answers, stored, health


def test_concurrent_hostile_tts_and_bombs_are_answered_and_the_server_stops_on_sigterm(tmp_path: Path) -> None:
    hours = [100.0 if i % 2 == 0 else 1.0 for i in range(BOMBS)]
    bombs = [flac_silence_bomb(tmp_path / f"bomb{i}.flac", hours=h).read_bytes() for i, h in enumerate(hours)]
    server = ServerProcess(tmp_path / "audiostore-data", env={"AUDIOSTORE_WORKERS": "2"}).start()
    try:
        key = (server.data_dir / "admin.key").read_text().strip()
        answers, stored, health = asyncio.run(_storm(server.url, key, bombs))
        dropped = [a for a in [*answers, *stored] if isinstance(a, BaseException)]
        assert not dropped, dropped[:3]
        bomb_statuses = [(h, a.status_code) for h, a in zip(hours, stored) if isinstance(a, httpx.Response)]
        assert all(_bomb_acceptable(a, h) for h, a in zip(hours, stored) if isinstance(a, httpx.Response)), bomb_statuses
        statuses = [a.status_code for a in answers if isinstance(a, httpx.Response)]
        assert all(_acceptable(a) for a in answers if isinstance(a, httpx.Response)), statuses
        assert 201 in statuses and 502 in statuses and 422 in statuses, statuses  # all three kinds happened
        assert health and all(s == 200 for s in health), health
        assert httpx.get(f"{server.url}/v1/health", timeout=5).status_code == 200

        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=10)
        _wait_until_group_gone(server.proc.pid, "processes of the server")  # engine workers too
    finally:
        server.stop()


def _wait_until_group_gone(pgid: int, what: str, seconds: float = 10) -> None:
    """Wait (bounded) until no process of the group `pgid` is left: fork servers included."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} outlived the server by {seconds:.0f} s")


def _descendants(pid: int) -> list[int]:
    found = children_of(pid)
    return found + [d for c in found for d in _descendants(c)]


def test_sigterm_to_the_main_process_stops_a_server_mid_synthesis(tmp_path: Path) -> None:
    """granian waits for the requests in flight before a worker stops; a synthesis must not
    hold the shutdown (here one that would take minutes): the worker is killed after
    AUDIOSTORE_SHUTDOWN_TIMEOUT_SECONDS and its engine processes end with it."""
    text = "The quick brown fox jumps over the lazy dog. " * 5000
    server = ServerProcess(tmp_path / "audiostore-data", env={
        "AUDIOSTORE_TTS_MAX_TEXT_CHARS": str(len(text)), "AUDIOSTORE_TTS_TIMEOUT_SECONDS": "600",
    }).start()
    try:
        assert server.proc is not None
        key = (server.data_dir / "admin.key").read_text().strip()
        speaking = threading.Thread(target=lambda: _post_quietly(server.url, key, text), daemon=True)
        speaking.start()
        deadline = time.monotonic() + 60
        while not any(_is_engine_worker(p) for p in _descendants(server.proc.pid)):
            assert time.monotonic() < deadline, "the synthesis never reached an engine process"
            time.sleep(0.05)
        os.kill(server.proc.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
        server.proc.wait(timeout=10)
        _wait_until_group_gone(server.proc.pid, "engine processes")
    finally:
        server.stop()


def _is_engine_worker(pid: int) -> bool:
    """A process forked by the fork server (its parent runs `multiprocessing.forkserver`)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            return b"multiprocessing.forkserver" in f.read()
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return False


def _post_quietly(url: str, key: str, text: str) -> None:
    try:
        httpx.post(f"{url}/v1/tts", headers={"Authorization": f"Bearer {key}"}, json={"text": text}, timeout=120)
    except httpx.TransportError:
        pass  # the server stops under it: that is the point
