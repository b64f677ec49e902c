"""`audiostore tts` against a real `audiostore serve` process, over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from server_process import ServerProcess
from tts_support import decode, rms

from audiostore.client import ApiError, Client


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


def test_tts_command_passes_expires_in_and_metadata(server: ServerProcess) -> None:
    r = cli(server, "tts", "A link for two minutes.", "--expires-in", "120",
            "--metadata", '{"job": "cli", "n": 3}', "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["metadata"]["job"] == "cli" and obj["metadata"]["n"] == 3 and "tts" in obj["metadata"]
    lifetime = datetime.fromisoformat(obj["url_expires_at"]) - datetime.fromisoformat(obj["created_at"])
    assert timedelta(seconds=120) <= lifetime < timedelta(seconds=180)  # not the 1 h default
    signed = parse_qs(urlsplit(obj["url"]).query)["expires"]
    assert signed == [str(int(datetime.fromisoformat(obj["url_expires_at"]).timestamp()))]

    not_json = cli(server, "tts", "hi", "--metadata", "{nope")
    assert not_json.returncode == 2 and "--metadata is not valid JSON" in not_json.stderr
    not_object = cli(server, "tts", "hi", "--metadata", "[1, 2]")
    assert not_object.returncode == 6 and "invalid_metadata" in not_object.stderr
    too_long = cli(server, "tts", "hi", "--expires-in", "0")
    assert too_long.returncode == 6 and "AUDIOSTORE_URL_MAX_EXPIRY" in too_long.stderr


def test_sync_sdk_passes_expires_in_and_metadata(server: ServerProcess) -> None:
    key = (server.data_dir / "admin.key").read_text().strip()
    with Client(server.url, api_key=key) as c:
        obj = c.tts("Said through the SDK.", format="wav", expires_in=300, metadata={"from": "sync"})
        assert obj["metadata"]["from"] == "sync" and obj["cache_hit"] is False
        lifetime = datetime.fromisoformat(obj["url_expires_at"]) - datetime.fromisoformat(obj["created_at"])
        assert timedelta(seconds=300) <= lifetime < timedelta(seconds=360)
        hit = c.tts("Said through the SDK.", format="wav", expires_in=60, metadata={"from": "again"})
        assert hit["cache_hit"] is True and hit["id"] == obj["id"] and hit["metadata"]["from"] == "sync"
        assert datetime.fromisoformat(hit["url_expires_at"]) < datetime.fromisoformat(obj["url_expires_at"])
        assert httpx.get(hit["url"]).status_code == 200
        with pytest.raises(ApiError) as bad:
            c.tts("Said through the SDK.", format="wav", metadata={"tts": "mine"})
        assert bad.value.code == "invalid_metadata" and bad.value.status == 422
