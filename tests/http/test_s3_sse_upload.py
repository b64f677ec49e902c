"""Uploads through the service with `AUDIOSTORE_S3_SSE` set land encrypted in the bucket (boto3
sees the header from the outside), one-request and multipart alike, and stream back exact
through the service, whole and by Range."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_factory import make_tone
from audiostore.blobstores.s3 import PART_SIZE
from conftest import backend_settings_s3, make_api
from fixtures_seaweedfs import LOCAL_KMS_KEY, SeaweedFS, seaweedfs_sse  # noqa: F401

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@pytest.mark.parametrize(("sse", "kms_key"), [("AES256", None), ("aws:kms", LOCAL_KMS_KEY)])
async def test_uploads_are_encrypted_in_the_bucket(
    sse: str, kms_key: str | None, seaweedfs_sse: SeaweedFS, postgres_url: str, tmp_path: Path,
    tones: dict[str, Path],
) -> None:
    bucket = seaweedfs_sse.new_bucket()
    api, runtime = await make_api(backend_settings_s3(
        tmp_path, seaweedfs_sse, bucket, postgres_url, s3_sse=sse, s3_sse_kms_key_id=kms_key,
        auth_cache_seconds=0,
    ))
    # 50 s of 44.1 kHz stereo 16-bit WAV is ~8.8 MB: more than one 8 MiB part.
    long_wav = make_tone(tmp_path / "long.wav", "wav", seconds=50, channels=2, sample_rate=44100)
    assert long_wav.stat().st_size > PART_SIZE
    try:
        for path in (tones["wav"], long_wav):
            r = await api.upload(path)
            assert r.status_code == 201, r.text
            obj = r.json()
            head = seaweedfs_sse.boto3().head_object(Bucket=bucket, Key=obj["key"])
            assert head["ServerSideEncryption"] == sse, head
            data = path.read_bytes()
            r = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
            assert r.status_code == 200 and r.content == data
            mid = len(data) // 2
            r = await api.http.get(f"/v1/audio/{obj['id']}/content",
                                   headers={**api.alice, "Range": f"bytes={mid}-{mid + 99}"})
            assert r.status_code == 206 and r.content == data[mid : mid + 100]
    finally:
        await api.http.aclose()
        await runtime.close()
