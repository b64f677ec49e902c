"""Addressing settings reach the URLs the S3 store signs (no network needed)."""

from __future__ import annotations

from pathlib import Path

from audiostore.blobstores.s3 import S3BlobStore
from audiostore.settings import Settings


async def test_aws_path_style_and_virtual_hosted() -> None:
    common = dict(bucket="my-audio", region="eu-west-1", access_key_id="AKIA", secret_access_key="x")
    path = await S3BlobStore(**common, path_style=True).sign_get("a/b.wav", expires_in=60)  # type: ignore[arg-type]
    assert path.startswith("https://s3.eu-west-1.amazonaws.com/my-audio/a/b.wav?")
    hosted = await S3BlobStore(**common, path_style=False).sign_get("a/b.wav", expires_in=60)  # type: ignore[arg-type]
    assert hosted.startswith("https://my-audio.s3.eu-west-1.amazonaws.com/a/b.wav?")
    assert "X-Amz-Credential=AKIA%2F" in path and "%2Feu-west-1%2Fs3%2Faws4_request" in path


async def test_r2_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, store="s3", s3_bucket="audio", s3_region="auto",
        s3_endpoint="https://acct123.r2.cloudflarestorage.com",
        s3_access_key_id="r2key", s3_secret_access_key="r2secret",
    )
    url = await S3BlobStore.from_settings(settings).sign_get("k.wav", expires_in=60)
    assert url.startswith("https://acct123.r2.cloudflarestorage.com/audio/k.wav?")
    assert "%2Fauto%2Fs3%2Faws4_request" in url and "r2secret" not in url
