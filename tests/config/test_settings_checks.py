"""Misconfiguration stops the start with a message that names the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiostore.errors import ConfigurationError
from audiostore.runtime import Runtime
from audiostore.settings import Settings
from audiostore.settings import check_settings, load_settings

S3 = dict(store="s3", s3_bucket="audio", s3_endpoint="https://s3.example.com")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"store": "s3"}, "AUDIOSTORE_S3_BUCKET"),
        ({**S3, "s3_access_key_id": "AKIA"}, "AUDIOSTORE_S3_SECRET_ACCESS_KEY"),
        ({**S3, "s3_secret_access_key": "shh"}, "AUDIOSTORE_S3_ACCESS_KEY_ID"),
        ({**S3, "s3_endpoint": "s3.example.com"}, "AUDIOSTORE_S3_ENDPOINT"),
        ({**S3, "s3_endpoint": "http://127.0.0.1:9000"}, "AUDIOSTORE_S3_ALLOW_HTTP"),
        ({**S3, "s3_sse": "rot13"}, "AUDIOSTORE_S3_SSE"),
        ({**S3, "s3_sse_kms_key_id": "k"}, "AUDIOSTORE_S3_SSE_KMS_KEY_ID"),
        ({"database_url": "mysql://u:secretpw@h/db"}, "AUDIOSTORE_DATABASE_URL"),
        ({"url_default_expiry": 9000, "url_max_expiry": 60}, "AUDIOSTORE_URL_DEFAULT_EXPIRY"),
        ({"max_duration_seconds": 0}, "AUDIOSTORE_MAX_DURATION_SECONDS"),
        ({"min_sample_rate": 0}, "AUDIOSTORE_MIN_SAMPLE_RATE"),
        ({"min_sample_rate": 48000, "max_sample_rate": 44100}, "AUDIOSTORE_MAX_SAMPLE_RATE"),
    ],
)
def test_misconfiguration_names_the_setting(tmp_path: Path, values: dict, named: str) -> None:
    settings = Settings(data_dir=tmp_path, **values)
    with pytest.raises(ConfigurationError) as caught:
        check_settings(settings)
    assert named in caught.value.message
    assert "secretpw" not in caught.value.message
    with pytest.raises(ConfigurationError) as at_start:
        Runtime.build(settings)
    assert named in at_start.value.message


def test_good_settings_pass(tmp_path: Path) -> None:
    check_settings(Settings(data_dir=tmp_path))
    check_settings(Settings(data_dir=tmp_path, **S3))
    check_settings(Settings(data_dir=tmp_path, store="s3", s3_bucket="b", s3_endpoint="http://127.0.0.1:9000",
                            s3_allow_http=True, s3_access_key_id="a", s3_secret_access_key="b",
                            database_url="postgresql://u:p@db.internal:5432/audio"))


def test_unreadable_values_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOSTORE_STORE", "ftp")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "AUDIOSTORE_STORE" in caught.value.message


@pytest.mark.parametrize(
    ("env", "named"),
    [({"AUDIOSTORE_STORE": "ftp"}, "AUDIOSTORE_STORE"), ({"AUDIOSTORE_STORE": "s3"}, "AUDIOSTORE_S3_BUCKET")],
)
def test_serve_refuses_to_start_naming_the_setting(tmp_path: Path, env: dict[str, str], named: str) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOSTORE_")}
    r = subprocess.run(
        [sys.executable, "-m", "audiostore", "serve", "--port", "9"],
        env={**clean, "AUDIOSTORE_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert r.returncode == 1
    assert named in r.stderr and "Traceback" not in r.stderr
