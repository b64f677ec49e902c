"""Two audiostore instances on one PostgreSQL database and one bucket (the README's
multi-instance example): what one does, the other sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import Api, backend_settings_local, backend_settings_s3, make_api
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


@pytest.fixture(params=["postgresql", "sqlite"])
async def any_pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Api, Api]]:
    """As `pair`, or two instances on one data dir: one SQLite file, one local store (as two
    granian workers are)."""
    if request.param == "sqlite":
        made = [await make_api(backend_settings_local(tmp_path, auth_cache_seconds=0)) for _ in range(2)]
    else:
        seaweedfs, bucket = request.getfixturevalue("seaweedfs"), request.getfixturevalue("s3_bucket")
        database = request.getfixturevalue("postgres_url")
        made = [await make_api(backend_settings_s3(
            tmp_path / name, seaweedfs, bucket, database, signing_secrets="shared-signing-secret",
            auth_cache_seconds=0)) for name in ("a", "b")]
    try:
        yield made[0][0], made[1][0]
    finally:
        for a, runtime in made:
            await a.http.aclose()
            await runtime.close()


async def test_the_hot_reads_of_one_see_the_others_changes_at_once(
    any_pair: tuple[Api, Api], tones: dict[str, Path]
) -> None:
    """GET, a list page, one URL and a batch read on b (catalog/driver_reads.py: a connection
    of their own, no session) see a's PATCH, expiry and delete with the very next request:
    nothing read there is kept between requests."""
    a, b = any_pair
    kept = (await a.upload(tones["wav"])).json()
    brief = (await a.upload(tones["flac"], ttl_seconds=60)).json()
    for obj in (kept, brief):  # b reads both once, before the changes
        assert (await b.http.get(f"/v1/audio/{obj['id']}", headers=a.alice)).status_code == 200
    assert (await a.http.patch(f"/v1/audio/{kept['id']}", headers=a.alice,
                               json={"metadata": {"take": 2}})).status_code == 200
    got = (await b.http.get(f"/v1/audio/{kept['id']}", headers=a.alice)).json()
    assert got["metadata"] == {"take": 2}

    b.clock.advance(61)  # past brief's expiry on b's clock: b serves it no more
    assert (await b.http.get(f"/v1/audio/{brief['id']}", headers=a.alice)).status_code == 404
    assert (await b.http.post(f"/v1/audio/{brief['id']}/url", headers=a.alice, json={})).status_code == 404

    assert (await a.http.delete(f"/v1/audio/{kept['id']}", headers=a.alice)).status_code == 204
    assert (await b.http.get(f"/v1/audio/{kept['id']}", headers=a.alice)).status_code == 404
    assert (await b.http.post(f"/v1/audio/{kept['id']}/url", headers=a.alice, json={})).status_code == 404
    listed = (await b.http.get("/v1/audio", headers=a.alice)).json()["items"]
    assert {i["id"] for i in listed} & {kept["id"], brief["id"]} == set()
    batch = (await b.http.post("/v1/urls", headers=a.alice,
                               json={"ids": [kept["id"], brief["id"]]})).json()["urls"]
    assert [u["error"]["code"] for u in batch] == ["not_found", "not_found"]
    # Another owner's object is not b's to serve either, whatever a served before.
    mine = (await a.upload(tones["wav"])).json()
    assert (await b.http.get(f"/v1/audio/{mine['id']}", headers=a.bob)).status_code == 404
    assert (await b.http.post("/v1/urls", headers=a.bob, json={"ids": [mine["id"]]})).json()["urls"][0]["url"] is None
