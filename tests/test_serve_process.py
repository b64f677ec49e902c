"""The real `audiostore serve`: first start, admin key, a socket, and the minimal CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("serve") / "audiostore-data"
    proc = ServerProcess(data).start()
    yield proc
    proc.stop()


def cli(server: ServerProcess, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDIOSTORE_URL": server.url, "AUDIOSTORE_DATA_DIR": str(server.data_dir)}
    if key:
        env["AUDIOSTORE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "audiostore", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_first_start_writes_admin_key_0600(server: ServerProcess) -> None:
    key_file = server.data_dir / "admin.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    r = httpx.get(f"{server.url}/v1/info", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert r.json()["store"]["kind"] == "local"
    assert r.json()["catalog"]["kind"] == "sqlite"
    assert (server.data_dir / "catalog.db").exists()


def test_keys_and_client_commands_against_real_server(server: ServerProcess, tones: dict[str, Path], tmp_path: Path) -> None:
    created = cli(server, "keys", "create", "--owner", "erin")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[0]
    assert key.startswith("as_")

    up = cli(server, "upload", str(tones["wav"]), "--collection", "takes", "--json", key=key)
    assert up.returncode == 0, up.stderr
    obj = json.loads(up.stdout)[0]
    assert obj["owner"] == "erin" and obj["collection"] == "takes"

    ls = cli(server, "ls", "--json", key=key)
    assert [o["id"] for o in json.loads(ls.stdout)] == [obj["id"]]

    url = cli(server, "url", obj["id"], "--expires-in", "60", key=key)
    assert url.returncode == 0
    signed = url.stdout.strip()
    got = httpx.get(signed, headers={"Range": "bytes=0-99"})
    assert got.status_code == 206 and got.content == tones["wav"].read_bytes()[:100]
    full = httpx.get(signed)
    assert full.content == tones["wav"].read_bytes()

    info = cli(server, "info", obj["id"], key=key)
    assert json.loads(info.stdout)["sha256"] == obj["sha256"]

    out = tmp_path / "copy.wav"
    dl = cli(server, "download", obj["id"], "-o", str(out), key=key)
    assert dl.returncode == 0 and out.read_bytes() == tones["wav"].read_bytes()

    rm = cli(server, "rm", obj["id"], key=key)
    assert rm.returncode == 0
    missing = cli(server, "info", obj["id"], key=key)
    assert missing.returncode == 3 and "not_found" in missing.stderr

    listed = json.loads(cli(server, "keys", "list", "--json").stdout)
    erin = [k for k in listed if k["owner"] == "erin"][0]
    assert "as_" not in json.dumps(listed)  # secrets are never listed
    assert cli(server, "keys", "revoke", erin["prefix"]).returncode == 0
    # The server caches verified keys for AUDIOSTORE_AUTH_CACHE_SECONDS (2 s by default);
    # a fresh key that was never used is refused at once.
    fresh = cli(server, "keys", "create", "--owner", "frank").stdout.splitlines()[0]
    assert cli(server, "keys", "revoke", fresh.split("_")[1]).returncode == 0
    denied = cli(server, "ls", key=fresh)
    assert denied.returncode == 4 and "revoked" in denied.stderr


def test_unreachable_server_exit_code(tmp_path: Path) -> None:
    env = {**os.environ, "AUDIOSTORE_URL": "http://127.0.0.1:9", "AUDIOSTORE_KEY": "as_x_y"}
    r = subprocess.run([sys.executable, "-m", "audiostore", "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 5 and "error" in r.stderr


def test_metrics_and_docs(server: ServerProcess) -> None:
    httpx.get(f"{server.url}/v1/health")
    text = httpx.get(f"{server.url}/metrics").text
    assert 'audiostore_http_requests_total{method="GET",route="/v1/health",status="200"}' in text
    assert "audiostore_uploads_total" in text
    assert "audiostore_bytes_out_total" in text
    assert httpx.get(f"{server.url}/docs").status_code == 200
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/audio/{audio_id}/content" in spec["paths"]
    assert "multipart/form-data" in spec["paths"]["/v1/audio"]["post"]["requestBody"]["content"]


def test_admin_key_printed_once(tmp_path: Path) -> None:
    data = tmp_path / "audiostore-data"
    first = ServerProcess(data).start()
    out = first.stop()
    key = (data / "admin.key").read_text().strip()
    assert f"AUDIOSTORE_KEY={key}" in out
    second = ServerProcess(data).start()
    assert "AUDIOSTORE_KEY=" not in second.stop()


def test_a_killed_server_worker_is_started_again(tmp_path: Path) -> None:
    """granian restarts a worker that died (here SIGKILL; in issue 11 a crash in libespeak-ng)
    instead of shutting the whole service down."""
    server = ServerProcess(tmp_path / "audiostore-data").start()
    try:
        [worker] = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.proc is not None and server.proc.poll() is None, (
                f"the server exited instead of restarting its worker:\n{server.stop()}"
            )
            replaced = [pid for pid in server.worker_pids() if pid != worker]
            if replaced:
                try:
                    if httpx.get(f"{server.url}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"no worker answered within 60 s of the kill:\n{server.stop()}")
        assert "Respawning worker-1" in server.stop()
    finally:
        server.stop()
