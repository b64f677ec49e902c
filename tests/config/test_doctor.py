"""`audiostore doctor` against real SeaweedFS and PostgreSQL: one line per check, exit 1 on
any failure, and never a secret in its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_seaweedfs import SeaweedFS


def doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "audiostore", "doctor"], env={**clean, "COLUMNS": "200", **env},
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )


def db_upgrade(env: dict[str, str], cwd: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOSTORE_")}
    subprocess.run([sys.executable, "-m", "audiostore", "db", "upgrade", "--create"], env={**clean, **env},
                   check=True, capture_output=True, timeout=120, cwd=cwd)


def s3_env(seaweedfs: SeaweedFS, bucket: str, database_url: str, data: Path) -> dict[str, str]:
    return {
        "AUDIOSTORE_DATA_DIR": str(data), "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": bucket,
        "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint, "AUDIOSTORE_S3_REGION": seaweedfs.region,
        "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
        "AUDIOSTORE_DATABASE_URL": database_url,
    }




@pytest.mark.s3
@pytest.mark.postgres
def test_doctor_all_green_on_s3_and_postgres(
    seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    env = s3_env(seaweedfs, s3_bucket, postgres_url, tmp_path / "data")
    db_upgrade(env, tmp_path)
    r = doctor(env, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("settings", "store: reach", "store: write", "store: read", "store: sign",
                  "store: delete", "database: reach", "database: migrations"):
        assert f"ok   {check}:" in r.stdout, (check, r.stdout)
    assert "presigned" in r.stdout
    assert seaweedfs.secret_key not in r.stdout + r.stderr
    # The probe blob is gone again.
    assert seaweedfs.boto3().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


@pytest.mark.s3
@pytest.mark.postgres
def test_doctor_fails_on_wrong_secret_and_pending_migrations(
    seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    env = {**s3_env(seaweedfs, s3_bucket, postgres_url, tmp_path / "data"),
           "AUDIOSTORE_S3_SECRET_ACCESS_KEY": "not-the-secret-key"}
    r = doctor(env, tmp_path)
    assert r.returncode == 1
    assert "FAIL store: reach:" in r.stdout
    assert "skip store: write:" in r.stdout
    assert "ok   database: reach:" in r.stdout
    assert "FAIL database: migrations:" in r.stdout and "audiostore db upgrade" in r.stdout
    assert "not-the-secret-key" not in r.stdout + r.stderr
    assert "postgres" in r.stdout


@pytest.mark.s3
@pytest.mark.postgres
def test_on_s3_and_postgres_doctor_db_upgrade_and_keys_write_nothing_to_disk(
    seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    """No AUDIOSTORE_DATA_DIR, run from an empty folder: nothing may appear in it."""
    env = s3_env(seaweedfs, s3_bucket, postgres_url, tmp_path / "unused")
    del env["AUDIOSTORE_DATA_DIR"]
    here = tmp_path / "elsewhere"
    here.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "audiostore", *args], env={**clean, "COLUMNS": "200", **env},
                              capture_output=True, text=True, timeout=120, cwd=here)

    refused = run("keys", "create", "--owner", "x")  # a fresh database: no catalogue in it yet
    assert refused.returncode == 1 and "holds no audiostore catalogue" in refused.stderr
    assert "--create" in refused.stderr and refused.stdout == ""
    before = run("doctor")
    assert before.returncode == 1 and "FAIL database: migrations:" in before.stdout
    assert "holds no audiostore catalogue: `audiostore db upgrade --create`" in before.stdout
    assert run("db", "upgrade").returncode == 1  # it upgrades a catalogue; making one is asked
    upgraded = run("db", "upgrade", "--create")
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("doctor").returncode == 0
    made = run("keys", "create", "--owner", "x")
    assert made.returncode == 0 and made.stdout.startswith("as_")
    assert list(here.iterdir()) == []  # no ./audiostore-data, no signing key


def test_doctor_names_a_missing_setting(tmp_path: Path) -> None:
    r = doctor({"AUDIOSTORE_DATA_DIR": str(tmp_path / "data"), "AUDIOSTORE_STORE": "s3"}, tmp_path)
    assert r.returncode == 1
    assert "FAIL settings:" in r.stdout and "AUDIOSTORE_S3_BUCKET" in r.stdout


def test_doctor_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"AUDIOSTORE_DATA_DIR": str(tmp_path / "data")}
    db_upgrade(env, tmp_path)
    r = doctor(env, tmp_path)
    assert r.returncode == 0, r.stdout
    assert "ok   store: write:" in r.stdout and "ok   database: migrations:" in r.stdout


def test_doctor_unreachable_store(tmp_path: Path) -> None:
    env = {"AUDIOSTORE_DATA_DIR": str(tmp_path / "data"), "AUDIOSTORE_STORE": "s3",
           "AUDIOSTORE_S3_BUCKET": "b", "AUDIOSTORE_S3_ENDPOINT": "http://127.0.0.1:9",
           "AUDIOSTORE_S3_ALLOW_HTTP": "true", "AUDIOSTORE_S3_ACCESS_KEY_ID": "a",
           "AUDIOSTORE_S3_SECRET_ACCESS_KEY": "b"}
    r = doctor(env, tmp_path)
    assert r.returncode == 1
    assert "FAIL store: reach:" in r.stdout
