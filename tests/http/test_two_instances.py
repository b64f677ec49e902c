"""Two audiostore instances on one PostgreSQL database and one bucket (the README's
multi-instance example): what one does, the other sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import Api, backend_settings_s3, make_api
from fixtures_seaweedfs import SeaweedFS

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@pytest.fixture
async def pair(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str
) -> AsyncIterator[tuple[Api, Api]]:
    made = []
    for name in ("a", "b"):
        settings = backend_settings_s3(
            tmp_path / name, seaweedfs, s3_bucket, postgres_url, signed_urls="proxy",
            signing_secrets="shared-signing-secret", auth_cache_seconds=0,
        )
        made.append(await make_api(settings))
    try:
        yield made[0][0], made[1][0]
    finally:
        for a, runtime in made:
            await a.http.aclose()
            await runtime.close()


async def test_upload_on_one_serve_sign_delete_on_the_other(
    pair: tuple[Api, Api], seaweedfs: SeaweedFS, s3_bucket: str, tones: dict[str, Path]
) -> None:
    a, b = pair
    obj = (await a.upload(tones["wav"], collection="shared")).json()
    # b's own keys work too: one database holds every instance's keys.
    for who in (a.alice, b.alice):
        listed = (await b.http.get("/v1/audio", headers=who, params={"collection": "shared"})).json()
        assert obj["id"] in {i["id"] for i in listed["items"]}
    r = await b.http.get(f"/v1/audio/{obj['id']}/content", headers={**a.alice, "Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == tones["wav"].read_bytes()[:100]

    url = (await a.http.post(f"/v1/audio/{obj['id']}/url", headers=a.alice, json={})).json()["url"]
    got = await b.http.get(url.removeprefix("http://testserver"))
    assert got.status_code == 200 and got.content == tones["wav"].read_bytes()

    assert (await b.http.delete(f"/v1/audio/{obj['id']}", headers=a.alice)).status_code == 204
    assert (await a.http.get(f"/v1/audio/{obj['id']}", headers=a.alice)).status_code == 404
    assert seaweedfs.boto3().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


async def test_a_key_revoked_on_one_stops_on_the_other(pair: tuple[Api, Api]) -> None:
    a, b = pair
    assert (await b.http.get("/v1/audio", headers=a.bob)).status_code == 200
    await a.runtime.keys.revoke(a.bob_key.split("_")[1])  # keys look like as_<prefix>_<secret>
    assert (await b.http.get("/v1/audio", headers=a.bob)).status_code == 401
