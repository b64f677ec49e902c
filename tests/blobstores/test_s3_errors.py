"""obstore's errors stop at the S3 store's edge: callers see BlobNotFound or
BlobStoreUnavailable, quickly, whatever went wrong underneath."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiostore.blobstores import BlobNotFound, BlobStoreUnavailable
from audiostore.blobstores.s3 import S3BlobStore
from fixtures_seaweedfs import SeaweedFS


def _store(weed: SeaweedFS, bucket: str, **kw: object) -> S3BlobStore:
    values = dict(bucket=bucket, endpoint=weed.endpoint, region=weed.region,
                  access_key_id=weed.access_key, secret_access_key=weed.secret_key, allow_http=True)
    return S3BlobStore(**{**values, **kw})  # type: ignore[arg-type]


async def test_wrong_secret_is_unavailable_not_a_crash(seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"abc")
    await _store(seaweedfs, s3_bucket).put_file("k.wav", src, content_type="audio/wav")
    bad = _store(seaweedfs, s3_bucket, secret_access_key="not-the-secret")
    with pytest.raises(BlobStoreUnavailable):
        await bad.head("k.wav")
    with pytest.raises(BlobStoreUnavailable):
        await bad.put_file("other.wav", src, content_type="audio/wav")
    with pytest.raises(BlobStoreUnavailable):
        await bad.get_range("k.wav", 0, 2)
    with pytest.raises(BlobStoreUnavailable):
        [m async for m in bad.list("")]


async def test_unreachable_endpoint_is_unavailable(tmp_path: Path) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"abc")
    down = S3BlobStore(bucket="b", endpoint="http://127.0.0.1:9", access_key_id="a",
                       secret_access_key="b", allow_http=True)
    with pytest.raises(BlobStoreUnavailable):
        await down.put_file("k.wav", src, content_type="audio/wav")
    with pytest.raises(BlobStoreUnavailable):
        await down.delete_many(["k.wav"])


async def test_missing_bucket_key_is_not_found(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    with pytest.raises(BlobNotFound):
        await _store(seaweedfs, s3_bucket).head("never/was.wav")


async def test_presigned_url_is_sigv4_for_the_key(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    url = await _store(seaweedfs, s3_bucket).sign_get("a b/ü.wav", expires_in=120)
    assert url.startswith(f"{seaweedfs.endpoint}/{s3_bucket}/a%20b/")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=120" in url
