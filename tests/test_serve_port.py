"""A second `audiostore serve` on a port in use stops at once with one line naming the port and
the setting, and creates nothing; AUDIOSTORE_REUSE_PORT=true lets it share the port on purpose.
Real processes: granian binds with SO_REUSEPORT, which only real sockets show."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server_process import ServerProcess

from audiostore.cli.listen_port import claim_listen_port
from audiostore.settings import Settings


def serve_once(port: int, data: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`audiostore serve` that is expected to stop by itself (the timeout fails the test if it
    starts serving instead)."""
    return subprocess.run(
        [sys.executable, "-m", "audiostore", "serve", "--port", str(port), "--data-dir", str(data)],
        env={**os.environ, "COLUMNS": "80", **(env or {})}, capture_output=True, text=True,
        timeout=60, cwd=data.parent,
    )


def assert_refused(done: subprocess.CompletedProcess[str], port: int, data: Path) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: Port {port} on 127.0.0.1 is already in use")
    assert "AUDIOSTORE_PORT" in lines[0] and "AUDIOSTORE_REUSE_PORT" in lines[0]
    assert "AUDIOSTORE_KEY=" not in done.stdout
    assert not data.exists()  # no second catalogue, no admin key


def test_a_second_server_on_a_busy_port_stops_at_once(tmp_path: Path) -> None:
    # The first server runs two granian workers: its own check must not trip over them.
    first = ServerProcess(tmp_path / "first", env={"AUDIOSTORE_WORKERS": "2"}).start()
    try:
        second_data = tmp_path / "second"
        assert_refused(serve_once(first.port, second_data), first.port, second_data)
        key = (first.data_dir / "admin.key").read_text().strip()
        # Every request still reaches the first server's catalogue.
        for _ in range(12):
            r = httpx.get(f"{first.url}/v1/info", headers={"Authorization": f"Bearer {key}"}, timeout=10)
            assert r.status_code == 200
    finally:
        first.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="the port's name is an abstract Unix socket, which only Linux has")
def test_a_server_starting_at_the_same_moment_is_refused(tmp_path: Path) -> None:
    """Two servers started together both pass the bind check before either binds; the one
    that finds the port's name held (here by this test, standing in for the other) stops."""
    probe = ServerProcess(tmp_path / "unused")  # only for a free port
    held = claim_listen_port(Settings(host="127.0.0.1", port=probe.port, data_dir=tmp_path / "x"))
    try:
        data = tmp_path / "late"
        assert_refused(serve_once(probe.port, data), probe.port, data)
    finally:
        if held is not None:
            held.close()


def test_reuse_port_lets_servers_share_a_port_on_purpose(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "first", env={"AUDIOSTORE_REUSE_PORT": "true"}).start()
    second = ServerProcess(tmp_path / "second", env={"AUDIOSTORE_REUSE_PORT": "true"})
    second.port, second.url = first.port, first.url
    try:
        second.start()  # its health check may be answered by the first; what follows is not
        key_file = second.data_dir / "admin.key"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not key_file.exists():
            time.sleep(0.1)
        key = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        # Only the second server knows its own admin key: the kernel sends it a share of the
        # new connections once it listens too.
        answers = []
        while time.monotonic() < deadline and 200 not in answers and len(answers) < 500:
            with httpx.Client(timeout=10) as fresh:  # a new connection each time
                answers.append(fresh.get(f"{first.url}/v1/info", headers=key).status_code)
            if 200 not in answers:
                time.sleep(0.05)
        assert 200 in answers and set(answers) <= {200, 401}
        assert second.proc is not None and second.proc.poll() is None
    finally:
        second.stop()
        first.stop()
