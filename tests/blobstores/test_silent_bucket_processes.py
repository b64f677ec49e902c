"""A bucket endpoint that takes connections and never answers (a TCP listener on 127.0.0.1
that reads and writes nothing), met by real processes: `audiostore doctor` reports the store
unreachable within its deadlines, and `audiostore serve` starts, spools uploads and answers
the next ones in seconds instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from audio_factory import write_wav
from server_process import ServerProcess
from silent_listener import silent_listener

# Short: every call here goes unanswered, so each one waits its deadline out.
CONNECT, FIRST_BYTE, CALL = 0.5, 1.0, 1.5
MARGIN = 10.0  # generous: "seconds, not minutes", never a tight timing


def _env(endpoint: str, data: Path) -> dict[str, str]:
    return {
        "AUDIOSTORE_DATA_DIR": str(data), "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": "silent",
        "AUDIOSTORE_S3_ENDPOINT": endpoint, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
        "AUDIOSTORE_S3_ACCESS_KEY_ID": "key", "AUDIOSTORE_S3_SECRET_ACCESS_KEY": "secret",
        "AUDIOSTORE_S3_CONNECT_TIMEOUT_SECONDS": str(CONNECT),
        "AUDIOSTORE_S3_FIRST_BYTE_TIMEOUT_SECONDS": str(FIRST_BYTE),
        "AUDIOSTORE_S3_CALL_TIMEOUT_SECONDS": str(CALL), "AUDIOSTORE_SIGNED_URLS": "proxy",
        "AUDIOSTORE_SWEEP_INTERVAL": "0", "AUDIOSTORE_ACCESS_LOG": "false",
    }


def test_doctor_reports_a_silent_bucket_within_its_deadlines(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}
    with silent_listener() as listener:
        started = time.monotonic()
        r = subprocess.run(
            [sys.executable, "-m", "audiostore", "doctor"], capture_output=True, text=True,
            env={**clean, "COLUMNS": "300", **_env(listener.endpoint, tmp_path / "data")},
            timeout=120, cwd=tmp_path,
        )
        took = time.monotonic() - started
        assert listener.accepted >= 1
    reach = next(line for line in r.stdout.splitlines() if " store: reach:" in line)
    assert not reach.startswith("ok "), r.stdout
    assert "no answer from the store" in reach, reach
    assert r.returncode != 0
    assert took < FIRST_BYTE + MARGIN, took


def test_serve_starts_spools_and_answers_503_against_a_silent_bucket(tmp_path: Path) -> None:
    body = write_wav(tmp_path / "x.wav", 100_000).read_bytes()
    with silent_listener() as listener:
        data = tmp_path / "data"
        server = ServerProcess(data, env=_env(listener.endpoint, data))
        started = time.monotonic()
        server.start(timeout=CALL + 60)
        try:
            assert time.monotonic() - started < CALL + MARGIN + 10  # + the start itself
            auth = {"Authorization": f"Bearer {(data / 'admin.key').read_text().strip()}"}
            with httpx.Client(base_url=server.url, headers=auth, timeout=120) as http:
                t = time.monotonic()
                r = http.post("/v1/audio", content=body, headers={"Content-Type": "audio/wav"})
                assert r.status_code == 201 and r.json()["location"] == "spool", r.text
                assert time.monotonic() - t < CALL + MARGIN
                # Spooled bytes are served from the spool meanwhile; /v1/info says it spools.
                assert http.get(f"/v1/audio/{r.json()['id']}/content").content == body
                assert http.get("/v1/info").json()["store"]["spooling_now"] is True
        finally:
            server.stop()
