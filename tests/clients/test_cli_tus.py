"""`audiostore upload` of a large file resumes across processes: the CLI is killed
(SIGKILL, a real subprocess) after the service acknowledged some chunks, the same command
runs again, goes on from the service's offset and stores the file once, on local disk +
SQLite and on S3 + PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from audio_factory import make_tone
from cutting_relay import CuttingRelay
from fixtures_client_server import Served

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tone(tmp_path_factory.mktemp("tus-cli") / "interview.wav", "wav", seconds=55.0, channels=2)


def _offset(location: str, key: str) -> int:
    got = httpx.head(location, headers={"Authorization": f"Bearer {key}", "Tus-Resumable": "1.0.0"})
    assert got.status_code == 200, got.status_code
    return int(got.headers["upload-offset"])


def _entries(state: Path) -> dict[str, dict[str, object]]:
    try:
        return dict(json.loads(state.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def test_a_killed_upload_resumes_when_run_again(served_on: Served, big_wav: Path, tmp_path: Path) -> None:
    served = served_on
    key = served.new_key("tus-cli")
    size = big_wav.stat().st_size
    cache = tmp_path / "cache"
    state = cache / "audiostore" / "uploads.json"  # the default place, under XDG_CACHE_HOME
    args = ["upload", str(big_wav), "--collection", "interviews", "--tus-chunk", "1MiB", "--no-progress"]
    with CuttingRelay(served.proc.port, rate=1.5 * MiB) as relay:
        env = {**os.environ, "AUDIOSTORE_URL": relay.url, "AUDIOSTORE_KEY": key, "XDG_CACHE_HOME": str(cache)}
        first = subprocess.Popen([sys.executable, "-m", "audiostore", *args], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            location = None
            while time.monotonic() < deadline and first.poll() is None:
                urls = [str(e["url"]) for e in _entries(state).values()]
                if urls and _offset(urls[0], key) >= 2 * MiB:
                    location = urls[0]
                    break
                time.sleep(0.1)
            if location is not None:
                first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            _, stderr = first.communicate(timeout=30)
        assert location is not None, f"the first run never got 2 MiB acknowledged: {stderr}"
        assert first.returncode == -signal.SIGKILL
        time.sleep(0.5)  # the service sees the cut PATCH end
        kept = _offset(location, key)
        assert 0 < kept < size
        relay.rate = None
        sent_before, created_before = relay.upstream_bytes, relay.requests["POST"]

        again = served.cli(*args, key=key, env={"AUDIOSTORE_URL": relay.url, "XDG_CACHE_HOME": str(cache)})
        assert again.returncode == 0, again.stderr
        assert relay.requests["POST"] == created_before == 1  # no new upload was created
        assert relay.requests["HEAD"] >= 1
        assert relay.upstream_bytes - sent_before < size - kept + 64 * 1024  # only what was missing
    audio_id = again.stdout.split("\t")[0]
    listed = json.loads(served.cli("ls", "--collection", "interviews", "--json", key=key).stdout)
    assert [o["id"] for o in listed] == [audio_id]
    assert listed[0]["sha256"] == hashlib.sha256(big_wav.read_bytes()).hexdigest()
    stored = httpx.get(f"{served.url}/v1/audio/{audio_id}/content", headers={"Authorization": f"Bearer {key}"},
                       timeout=60)
    assert hashlib.sha256(stored.content).hexdigest() == listed[0]["sha256"]  # the object itself
    assert _entries(state) == {}  # stored: the state file forgot it


def test_tus_sizes_are_parsed_and_a_bad_one_is_a_usage_error(served: Served, tmp_path: Path) -> None:
    bad = served.cli("upload", str(tmp_path), "--tus-threshold", "lots")
    assert bad.returncode == 2 and "--tus-threshold" in bad.stderr
