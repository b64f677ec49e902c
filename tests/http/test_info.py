"""GET /v1/info names the store, bucket, endpoint, catalogue and signing mode, and never a
secret (the seeds' "s3-info")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import Api, backend_settings_s3, make_api
from fixtures_seaweedfs import SeaweedFS


async def test_info_names_the_backend(api: Api, backend: str) -> None:
    r = await api.http.get("/v1/info", headers=api.alice)
    assert r.status_code == 200
    info = r.json()
    s = api.runtime.settings
    if backend == "local":
        assert info["store"] == {"kind": "local"}
        assert info["catalog"]["kind"] == "sqlite"
        assert info["signed_urls"] == "service"
    else:
        assert info["store"]["kind"] == "s3"
        assert info["store"]["bucket"] == s.s3_bucket
        assert info["store"]["endpoint"] == s.s3_endpoint
        assert info["store"]["region"] == s.s3_region
        assert info["catalog"]["kind"] == "postgresql"
        assert info["signed_urls"] == "proxy"
    text = json.dumps(info)
    key_file = s.data_dir / "signing.key"
    signing = s.signing_secrets or [key_file.read_text().strip()]
    for secret in [*signing, s.s3_secret_access_key]:
        if secret:
            assert secret not in text
    assert api.alice_key not in text


async def test_info_needs_a_key(api: Api) -> None:
    assert (await api.http.get("/v1/info")).status_code == 401


@pytest.fixture
async def direct(tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str) -> AsyncIterator[Api]:
    settings = backend_settings_s3(
        tmp_path, seaweedfs, s3_bucket, postgres_url, signed_urls="direct",
        signing_secrets="first-signing-secret,second-signing-secret",
    )
    a, runtime = await make_api(settings)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_info_in_direct_mode_shows_no_secret(direct: Api, seaweedfs: SeaweedFS) -> None:
    r = await direct.http.get("/v1/info", headers=direct.admin)
    info = r.json()
    assert info["signed_urls"] == "direct"
    assert info["store"]["endpoint"] == seaweedfs.endpoint
    text = r.text
    for secret in (seaweedfs.secret_key, "first-signing-secret", "second-signing-secret", direct.admin_key):
        assert secret not in text


async def test_health_says_whether_the_catalogue_answers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from audiostore import __version__

    r = await api.http.get("/v1/health")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok", "catalog": True, "version": __version__}

    async def unreachable() -> None:
        raise ConnectionError("catalogue down")

    monkeypatch.setattr(api.runtime.catalog, "ping", unreachable)
    r = await api.http.get("/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "degraded", "catalog": False, "version": __version__}
