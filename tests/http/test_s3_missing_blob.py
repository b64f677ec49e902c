"""Proxy mode when the bucket lost an object's bytes or cannot be reached: a clear 404/503
before any byte is sent, never a 500 or a cut-off body."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Api, backend_settings_s3, make_api
from fixtures_seaweedfs import SeaweedFS

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@pytest.fixture
def backend() -> str:
    return "s3"


async def test_blob_deleted_behind_the_services_back(api: Api, seaweedfs: SeaweedFS, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    seaweedfs.boto3().delete_object(Bucket=api.runtime.settings.s3_bucket, Key=obj["key"])
    r = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await api.http.get(f"/v1/audio/{obj['id']}/content", headers={**api.alice, "Range": "bytes=0-9"})
    assert r.status_code == 404


async def test_store_refusing_reads_is_503(
    api: Api, tmp_path: Path, seaweedfs: SeaweedFS, postgres_url: str, tones: dict[str, Path]
) -> None:
    obj = (await api.upload(tones["wav"])).json()
    s = api.runtime.settings
    # A second instance on the same catalogue and bucket whose credentials the bucket refuses.
    broken, runtime = await make_api(backend_settings_s3(
        tmp_path / "broken", seaweedfs, s.s3_bucket or "", postgres_url,
        s3_secret_access_key="not-the-secret", auth_cache_seconds=0,
    ))
    try:
        r = await broken.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
        assert seaweedfs.secret_key not in r.text
    finally:
        await broken.http.aclose()
        await runtime.close()
