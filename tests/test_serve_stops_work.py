"""A real `audiostore serve` and a rendition of a decode bomb (minutes of MP3 encoding):
the client hanging up cancels it, SIGTERM stops the server within seconds, and the scratch
directory a SIGKILL leaves behind is removed by the temp-file job."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from decode_bombs import make_silent_flac
from server_process import ServerProcess

from audiostore.jobs.temp_files import remove_abandoned_temp_files

BOMB_SECONDS = 3 * 3600  # MP3 at 48 kHz stereo: minutes of CPU, far more than any wait here
WAIT = 30.0


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_silent_flac(tmp_path_factory.mktemp("bomb") / "silence.flac", BOMB_SECONDS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"AUDIOSTORE_SWEEP_INTERVAL": "0", "AUDIOSTORE_MAX_DURATION_SECONDS": str(10 * BOMB_SECONDS)}
    proc = ServerProcess(tmp_path / "data", env=env).start()
    yield proc
    proc.stop()


def upload(server: ServerProcess, path: Path) -> tuple[str, dict[str, str]]:
    key = (server.data_dir / "admin.key").read_text().strip()
    auth = {"Authorization": f"Bearer {key}"}
    with path.open("rb") as f:
        r = httpx.post(f"{server.url}/v1/audio", headers=auth, files={"file": (path.name, f)}, timeout=120)
    assert r.status_code == 201, r.text
    return r.json()["id"], auth


def scratch_dirs(server: ServerProcess) -> list[Path]:
    tmp = server.data_dir / "tmp"
    return [p for p in tmp.iterdir() if p.is_dir()] if tmp.exists() else []


def start_rendition(server: ServerProcess, audio_id: str, auth: dict[str, str]) -> socket.socket:
    """Send a first `?format=mp3` request on a raw socket; return once its scratch exists."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(
        f"GET /v1/audio/{audio_id}/content?format=mp3&sample_rate=48000&channels=2 HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {auth['Authorization']}\r\n\r\n".encode()
    )
    wait_until(lambda: any((d / "out.mp3").exists() for d in scratch_dirs(server)), "the rendition never started")
    return sock


def locked(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def wait_until(condition: object, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(what)


def test_a_rendition_whose_client_hangs_up_is_cancelled(server: ServerProcess, bomb: Path) -> None:
    audio_id, auth = upload(server, bomb)
    sock = start_rendition(server, audio_id, auth)
    sock.close()
    wait_until(lambda: scratch_dirs(server) == [], "the rendition went on after its client left")
    got = httpx.get(f"{server.url}/v1/audio/{audio_id}", headers=auth, timeout=10)
    assert got.status_code == 200 and got.json()["renditions"] == []
    assert httpx.get(f"{server.url}/v1/health", timeout=10).status_code == 200


def test_sigterm_stops_a_server_rendering_within_seconds(server: ServerProcess, bomb: Path) -> None:
    audio_id, auth = upload(server, bomb)
    sock = start_rendition(server, audio_id, auth)
    try:
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("audiostore serve was still running 10 s after SIGTERM")
    finally:
        sock.close()
    assert scratch_dirs(server) == []  # the cancelled rendition cleaned up after itself


def test_the_scratch_of_a_killed_rendition_is_removed_by_the_job(server: ServerProcess, bomb: Path) -> None:
    audio_id, auth = upload(server, bomb)
    sock = start_rendition(server, audio_id, auth)
    try:
        wait_until(lambda: any((d / "out.mp3").stat().st_size > 0 for d in scratch_dirs(server)),
                   "the rendition wrote nothing")
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
    finally:
        sock.close()
    left = scratch_dirs(server)
    assert len(left) == 1 and (left[0] / "out.mp3").stat().st_size > 0
    # The worker process dies a moment after the server's main process has been reaped.
    wait_until(lambda: not locked(left[0]), "the killed worker still holds its scratch")
    tmp = server.data_dir / "tmp"
    assert remove_abandoned_temp_files(tmp, grace=3600) == 0  # younger than the grace: kept
    # The scratch directory goes, whole (and the staged upload its analysis held, if that
    # was still running when the process was killed).
    assert remove_abandoned_temp_files(tmp, grace=0) >= 1
    assert scratch_dirs(server) == []

