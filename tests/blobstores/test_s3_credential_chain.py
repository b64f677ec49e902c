"""With no `AUDIOSTORE_S3_ACCESS_KEY_ID`, the S3 store takes its credentials from the standard
AWS chain (boto3's when installed): environment variables first, then the shared credentials
file's profile (`AWS_PROFILE`, else `default`). Each source is shown to put, get and sign
against a real SeaweedFS that checks signatures; a wrong secret anywhere is BlobStoreAccessDenied.
Without boto3 (an optional extra), obstore's own chain reads the environment the same way.

Every test starts from an empty chain: no AWS_* variables, credential and config files that
do not exist, and no instance metadata lookup.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from audiostore.blobstores import BlobStoreAccessDenied, BlobStoreUnavailable
from audiostore.blobstores.s3 import S3BlobStore
from audiostore.errors import ConfigurationError
from audiostore.runtime import Runtime
from audiostore.settings import Settings
from fixtures_seaweedfs import SeaweedFS

pytestmark = pytest.mark.s3

DATA = bytes(range(256)) * 40


@pytest.fixture
def empty_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS credentials anywhere; returns the (not yet existing) shared credentials file."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    credentials = tmp_path / "aws" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws" / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return credentials


def _chain_store(weed: SeaweedFS, bucket: str, tmp_path: Path, **kw: object) -> S3BlobStore:
    """The store as `serve` builds it from settings, with no access key configured."""
    return S3BlobStore.from_settings(Settings(
        data_dir=tmp_path / "data", store="s3", s3_bucket=bucket, s3_endpoint=weed.endpoint,
        s3_region=weed.region, s3_allow_http=True, **kw,  # type: ignore[arg-type]
    ))


def _write_profiles(path: Path, profiles: dict[str, tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(
        f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n"
        for name, (key, secret) in profiles.items()
    ))


async def _put_get_sign(store: S3BlobStore, weed: SeaweedFS, tmp_path: Path) -> None:
    src = tmp_path / "blob"
    src.write_bytes(DATA)
    await store.put_file("chain/a.wav", src, content_type="audio/wav")
    assert (await store.head("chain/a.wav")).size == len(DATA)
    assert await store.get_range("chain/a.wav", 100, 200) == DATA[100:200]
    url = await store.sign_get("chain/a.wav", expires_in=120)
    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    assert credential.startswith(f"{weed.access_key}/") and f"/{weed.region}/s3/" in credential
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == DATA[10:20]
    await store.delete_many(["chain/a.wav"])


async def test_credentials_from_environment_variables(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    # The chain's region does not override AUDIOSTORE_S3_REGION (checked in the signed URL).
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    await _put_get_sign(_chain_store(seaweedfs, s3_bucket, tmp_path), seaweedfs, tmp_path)


async def test_without_boto3_obstores_own_chain_reads_the_environment(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    # As if boto3 were not installed (it is an optional extra): imports of it fail.
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "obstore.auth.boto3", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    await _put_get_sign(_chain_store(seaweedfs, s3_bucket, tmp_path), seaweedfs, tmp_path)


async def test_credentials_from_a_named_profile(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    _write_profiles(empty_chain, {
        "default": (seaweedfs.access_key, "the-default-profile-is-wrong"),
        "audiostore": (seaweedfs.access_key, seaweedfs.secret_key),
    })
    monkeypatch.setenv("AWS_PROFILE", "audiostore")
    await _put_get_sign(_chain_store(seaweedfs, s3_bucket, tmp_path), seaweedfs, tmp_path)
    # Without AWS_PROFILE the `default` profile is the one used, and the bucket refuses it.
    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(BlobStoreAccessDenied):
        await _chain_store(seaweedfs, s3_bucket, tmp_path).head("chain/a.wav")


async def test_chain_order_settings_then_environment_then_profile(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    _write_profiles(empty_chain, {"audiostore": (seaweedfs.access_key, "profile-secret-is-wrong")})
    monkeypatch.setenv("AWS_PROFILE", "audiostore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    # Environment variables come before the profile, even one named by AWS_PROFILE.
    await _put_get_sign(_chain_store(seaweedfs, s3_bucket, tmp_path), seaweedfs, tmp_path)
    # Keys in the settings come before the whole chain.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret-is-wrong")
    explicit = _chain_store(seaweedfs, s3_bucket, tmp_path, s3_access_key_id=seaweedfs.access_key,
                            s3_secret_access_key=seaweedfs.secret_key)
    await _put_get_sign(explicit, seaweedfs, tmp_path)
    # With the environment gone, the (wrong) profile is what is left.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BlobStoreAccessDenied):
        await _chain_store(seaweedfs, s3_bucket, tmp_path).head("chain/a.wav")


async def test_a_missing_named_profile_stops_the_start_naming_aws_profile(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    _write_profiles(empty_chain, {"audiostore": (seaweedfs.access_key, seaweedfs.secret_key)})
    monkeypatch.setenv("AWS_PROFILE", "audiostor")  # a typo; as in the AWS CLI, not ignored
    with pytest.raises(ConfigurationError, match="AWS_PROFILE") as err:
        Runtime.build(Settings(
            data_dir=tmp_path / "data", store="s3", s3_bucket=s3_bucket,
            s3_endpoint=seaweedfs.endpoint, s3_allow_http=True,
        ))
    assert "audiostor" in err.value.message and seaweedfs.secret_key not in err.value.message


async def test_wrong_secret_in_the_chain_is_access_denied(
    empty_chain: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedFS, s3_bucket: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = _chain_store(seaweedfs, s3_bucket, tmp_path)
    src = tmp_path / "blob"
    src.write_bytes(DATA)
    with pytest.raises(BlobStoreAccessDenied) as denied:
        await store.put_file("k.wav", src, content_type="audio/wav")
    assert isinstance(denied.value, BlobStoreUnavailable)  # callers that only know "unavailable"
    assert "not-the-secret" not in str(denied.value)
    with pytest.raises(BlobStoreAccessDenied):
        await store.head("k.wav")
    with pytest.raises(BlobStoreAccessDenied):
        await store.get_range("k.wav", 0, 4)
    # Signing is local and still "works"; the bucket refuses the URL.
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(await store.sign_get("k.wav", expires_in=60))
    assert r.status_code == 403
    # Nothing was written.
    assert seaweedfs.boto3().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
