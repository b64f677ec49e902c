"""`audiostore serve` on S3, as a real process: a bucket that rejects the credentials
themselves stops it at start, naming the settings (with the fallback spool on, uploads would
otherwise go to the spool for good); a bucket that is merely unreachable does not stop it. And
the check at start must not break the server: it runs in a child process, because an S3 call
in the server's own process would leave granian's forked workers with an obstore runtime
whose threads they do not have (every S3 call in them then hangs)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from audio_factory import write_wav

from audiostore.blobstores.s3 import S3BlobStore
from audiostore.cli.server_commands import CREDENTIALS_PROBE
from fixtures_seaweedfs import SeaweedFS
from server_process import ServerProcess, free_port

pytestmark = pytest.mark.s3


def store(seaweedfs: SeaweedFS, bucket: str, *, key: str | None = None, secret: str | None = None,
          endpoint: str | None = None) -> S3BlobStore:
    return S3BlobStore(
        bucket=bucket, endpoint=endpoint or seaweedfs.endpoint, region=seaweedfs.region,
        access_key_id=key or seaweedfs.access_key, secret_access_key=secret or seaweedfs.secret_key,
        allow_http=True,
    )


async def test_rejected_credentials_are_named_by_their_s3_code(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    assert await store(seaweedfs, s3_bucket).rejected_credentials() is None
    wrong_secret = store(seaweedfs, s3_bucket, secret="not-the-secret")
    assert await wrong_secret.rejected_credentials() == "SignatureDoesNotMatch"
    unknown_key = store(seaweedfs, s3_bucket, key="nobody-has-this-key")
    assert await unknown_key.rejected_credentials() == "InvalidAccessKeyId"
    nobody_listens = store(seaweedfs, s3_bucket, endpoint=f"http://127.0.0.1:{free_port()}")
    assert await nobody_listens.rejected_credentials() is None


def s3_env(tmp_path: Path, seaweedfs: SeaweedFS, bucket: str, secret: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))},
        "AUDIOSTORE_DATA_DIR": str(tmp_path / "data"), "AUDIOSTORE_STORE": "s3",
        "AUDIOSTORE_S3_BUCKET": bucket, "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint,
        "AUDIOSTORE_S3_REGION": seaweedfs.region, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
        "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key, "AUDIOSTORE_S3_SECRET_ACCESS_KEY": secret,
        "AUDIOSTORE_PORT": str(free_port()), "AUDIOSTORE_SWEEP_INTERVAL": "0",
    }


def serve(tmp_path: Path, seaweedfs: SeaweedFS, bucket: str, secret: str) -> subprocess.CompletedProcess[str]:
    env = s3_env(tmp_path, seaweedfs, bucket, secret)
    return subprocess.run(
        [sys.executable, "-m", "audiostore", "serve"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )


def test_serve_stops_at_start_when_the_bucket_rejects_the_secret(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str
) -> None:
    done = serve(tmp_path, seaweedfs, s3_bucket, "not-the-secret")
    assert done.returncode == 1
    assert "rejects the credentials" in done.stderr and "AUDIOSTORE_S3_SECRET_ACCESS_KEY" in done.stderr
    assert "SignatureDoesNotMatch" in done.stderr


def test_the_start_check_answers_with_a_clean_exit_every_time(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str
) -> None:
    """The child that checks the credentials exits right after an S3 request. Left to
    Python's own exit, obstore's runtime made about one child in five die with SIGABRT
    (its answer printed but its status -6, and the start went on with a wrong secret)."""
    for i in range(10):  # a fresh data directory each time, as on a first start
        env = s3_env(tmp_path / str(i), seaweedfs, s3_bucket, "not-the-secret")
        done = subprocess.run([sys.executable, "-c", CREDENTIALS_PROBE], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr) == (0, "")
        assert "SignatureDoesNotMatch" in done.stdout


def test_a_server_started_on_s3_stores_large_uploads_in_the_bucket(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str
) -> None:
    """After the start check: a 12 MiB upload (an early put, multipart) and a small one reach
    the bucket through the real server's forked worker."""
    (tmp_path / "data").mkdir()
    server = ServerProcess(tmp_path / "data", env=s3_env(tmp_path, seaweedfs, s3_bucket, seaweedfs.secret_key)).start()
    try:
        key = (tmp_path / "data" / "admin.key").read_text().strip()
        for size in (12 * 1024 * 1024, 64 * 1024):
            wav = write_wav(tmp_path / f"{size}.wav", size)
            r = httpx.post(f"{server.url}/v1/audio", content=wav.read_bytes(), timeout=60,
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "audio/wav"})
            assert r.status_code == 201, r.text
            stored = seaweedfs.boto3().get_object(Bucket=s3_bucket, Key=r.json()["key"])["Body"].read()
            assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(wav.read_bytes()).hexdigest()
    finally:
        server.stop()
