"""`audiostore doctor` on the S3 settings a user most often gets wrong: credentials from the AWS
chain (right and wrong) and server-side encryption the server cannot do. A failure names the
setting to look at; no secret is ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_seaweedfs import LOCAL_KMS_KEY, SeaweedFS, seaweedfs_sse  # noqa: F401

pytestmark = pytest.mark.s3

STORE_CHECKS = ("store: reach", "store: write", "store: read", "store: sign", "store: delete")


def _doctor(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}
    no_chain = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
                "AWS_CONFIG_FILE": str(tmp_path / "no-config"), "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run(
        [sys.executable, "-m", "audiostore", "doctor"], capture_output=True, text=True,
        env={**clean, "COLUMNS": "300", **no_chain, **env}, timeout=120, cwd=tmp_path,
    )


def _store_env(weed: SeaweedFS, bucket: str, tmp_path: Path, *, keys: bool = True) -> dict[str, str]:
    env = {"AUDIOSTORE_DATA_DIR": str(tmp_path / "data"), "AUDIOSTORE_STORE": "s3",
           "AUDIOSTORE_S3_BUCKET": bucket, "AUDIOSTORE_S3_ENDPOINT": weed.endpoint,
           "AUDIOSTORE_S3_REGION": weed.region, "AUDIOSTORE_S3_ALLOW_HTTP": "true"}
    if keys:
        env |= {"AUDIOSTORE_S3_ACCESS_KEY_ID": weed.access_key,
                "AUDIOSTORE_S3_SECRET_ACCESS_KEY": weed.secret_key}
    return env


def _line(out: str, check: str) -> str:
    return next((line for line in out.splitlines() if f" {check}:" in line), "")


def _store_all_ok(out: str) -> None:
    for check in STORE_CHECKS:
        assert _line(out, check).startswith("ok "), (check, out)


def test_credentials_from_the_aws_environment(seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path) -> None:
    env = {**_store_env(seaweedfs, s3_bucket, tmp_path, keys=False),
           "AWS_ACCESS_KEY_ID": seaweedfs.access_key, "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key}
    r = _doctor(env, tmp_path)
    _store_all_ok(r.stdout)
    assert seaweedfs.secret_key not in r.stdout + r.stderr


def test_wrong_secret_in_the_chain_names_where_credentials_come_from(
    seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    env = {**_store_env(seaweedfs, s3_bucket, tmp_path, keys=False),
           "AWS_ACCESS_KEY_ID": seaweedfs.access_key, "AWS_SECRET_ACCESS_KEY": "wrong-chain-secret"}
    r = _doctor(env, tmp_path)
    assert r.returncode == 1
    reach = _line(r.stdout, "store: reach")
    assert reach.startswith("FAIL"), r.stdout
    assert "AUDIOSTORE_S3_ACCESS_KEY_ID is unset" in reach and "AWS_SECRET_ACCESS_KEY" in reach
    assert "AWS_PROFILE" in reach
    assert _line(r.stdout, "store: write").startswith("skip")
    assert "wrong-chain-secret" not in r.stdout + r.stderr


def test_missing_named_profile_names_aws_profile(seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path) -> None:
    r = _doctor({**_store_env(seaweedfs, s3_bucket, tmp_path, keys=False),
                 "AWS_PROFILE": "no-such-profile"}, tmp_path)
    assert r.returncode == 1
    line = _line(r.stdout, "store: configure")
    assert line.startswith("FAIL") and "AWS_PROFILE" in line and "no-such-profile" in line, r.stdout


def test_wrong_configured_secret_names_the_setting(seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path) -> None:
    env = {**_store_env(seaweedfs, s3_bucket, tmp_path),
           "AUDIOSTORE_S3_SECRET_ACCESS_KEY": "wrong-configured-secret"}
    r = _doctor(env, tmp_path)
    reach = _line(r.stdout, "store: reach")
    assert reach.startswith("FAIL") and "AUDIOSTORE_S3_SECRET_ACCESS_KEY" in reach, r.stdout
    assert "AWS chain" not in reach
    assert "wrong-configured-secret" not in r.stdout + r.stderr


def test_sse_the_server_cannot_do_names_the_setting(seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path) -> None:
    # This SeaweedFS has no KEK, so it cannot do SSE-S3.
    r = _doctor({**_store_env(seaweedfs, s3_bucket, tmp_path), "AUDIOSTORE_S3_SSE": "AES256"}, tmp_path)
    assert r.returncode == 1
    assert _line(r.stdout, "store: reach").startswith("ok ")
    write = _line(r.stdout, "store: write")
    assert write.startswith("FAIL") and "AUDIOSTORE_S3_SSE=AES256" in write, r.stdout
    assert seaweedfs.boto3().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_sse_kms_on_a_server_that_does_it(seaweedfs_sse: SeaweedFS, tmp_path: Path) -> None:
    bucket = seaweedfs_sse.new_bucket()
    env = {**_store_env(seaweedfs_sse, bucket, tmp_path), "AUDIOSTORE_S3_SSE": "aws:kms",
           "AUDIOSTORE_S3_SSE_KMS_KEY_ID": LOCAL_KMS_KEY}
    _store_all_ok(_doctor(env, tmp_path).stdout)
