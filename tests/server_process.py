"""Run a real `audiostore serve` process on a free loopback port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Direct child processes of `pid`, from /proc (Linux); [] once it is gone."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []
    return sorted(found)


class ServerProcess:
    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "AUDIOSTORE_DATA_DIR": str(data_dir), **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.stdout = ""  # all it printed (stdout and stderr), complete once stopped
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def _drain(self) -> None:
        # Read as it prints: with an access line per request, a pipe nobody reads fills up
        # (64 KiB, a few hundred requests) and the server blocks writing its log.
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        """What it printed so far."""
        return "".join(self._lines)

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.launch()
        return self.wait_healthy(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (see `start_together`)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "audiostore", "serve", "--port", str(self.port)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, cwd=self.data_dir.parent,
        )
        self._reader = threading.Thread(target=self._drain, name="serve-output", daemon=True)
        self._reader.start()

    def wait_healthy(self, timeout: float = 60.0) -> ServerProcess:
        """Wait until /v1/health answers 200; stop it and raise if it does not in `timeout`."""
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(timeout=10)
                raise RuntimeError(f"audiostore serve exited: {self.output}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("audiostore serve did not become healthy in time")

    def worker_pids(self) -> list[int]:
        """The server's worker processes (granian's children), from /proc (Linux)."""
        assert self.proc is not None
        return children_of(self.proc.pid)

    def stop(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=10)  # ends at the end of its output
        self.stdout = self.output
        return self.stdout


def start_together(*servers: ServerProcess, timeout: float = 60.0) -> None:
    """Launch every server, then wait for each: their start-ups overlap instead of adding up.
    If one fails, all are stopped before the error goes on."""
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_healthy(timeout)
    except BaseException:
        for server in servers:
            server.stop()
        raise
