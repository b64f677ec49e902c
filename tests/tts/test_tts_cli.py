"""`audiostore tts` against a real `audiostore serve` process, over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import ServerProcess
from tts_support import decode, rms


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tts-serve") / "audiostore-data").start()
    yield proc
    proc.stop()


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    key = (server.data_dir / "admin.key").read_text().strip()
    env = {**os.environ, "AUDIOSTORE_URL": server.url, "AUDIOSTORE_KEY": key}
    return subprocess.run([sys.executable, "-m", "audiostore", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_tts_command_stores_speech_and_downloads_it(server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "hello.mp3"
    text = "Hello from the command line."
    r = cli(server, "tts", text, "--voice", "en-us", "--format", "mp3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    samples, rate = decode(out.read_bytes())
    assert samples.size / rate > 1.0 and rms(samples, 1.0 if abs(samples).max() <= 2 else 32768.0) > 0.02

    again = cli(server, "tts", text, "--voice", "en-us", "--format", "mp3", "--json")
    assert again.returncode == 0, again.stderr
    obj = json.loads(again.stdout)
    assert obj["cache_hit"] is True and obj["format"] == "mp3" and obj["text"] == text
    assert "(cached)" in again.stderr

    plain = cli(server, "tts", "Just the link.", "--format", "wav")
    assert plain.returncode == 0 and plain.stdout.strip().startswith(server.url + "/v1/audio/")


def test_tts_command_lists_voices_and_reports_errors(server: ServerProcess) -> None:
    voices = cli(server, "tts", "--voices", "--json")
    assert voices.returncode == 0, voices.stderr
    assert any(v["id"] == "en-us" and v["engine"] == "espeak" for v in json.loads(voices.stdout)["voices"])
    bad = cli(server, "tts", "hi", "--voice", "xx-nowhere")
    assert bad.returncode != 0 and "unknown_voice" in bad.stderr
    missing = cli(server, "tts")
    assert missing.returncode == 2
