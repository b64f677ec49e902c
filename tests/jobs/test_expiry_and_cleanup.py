"""Expiry is visible at once (404 everywhere, before any sweep); the sweeper then deletes
blobs and rows in batches; cleanup removes old audio on demand (CLI twin: admin HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import Api, make_api

from audiostore.jobs import run_job, run_jobs_once
from audiostore.settings import Settings


async def test_one_second_ttl_is_404_everywhere_before_any_sweep(api: Api, tones: dict[str, Path]) -> None:
    r = await api.upload(tones["wav"], ttl_seconds=1, collection="tmp")
    assert r.status_code == 201, r.text
    obj = r.json()
    signed = obj["url"].removeprefix("http://testserver")
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 200

    api.clock.advance(1.5)

    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.admin)).status_code == 404
    assert (await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)).status_code == 404
    assert (await api.http.head(f"/v1/audio/{obj['id']}/content", headers=api.alice)).status_code == 404
    listing = await api.http.get("/v1/audio", headers=api.alice)
    assert listing.json()["items"] == []
    assert (await api.http.get("/v1/audio?collection=tmp", headers=api.alice)).json()["items"] == []
    if signed.startswith("/"):  # service URL: checked by the service itself
        assert (await api.http.get(signed)).status_code == 404
    assert (await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={})).status_code == 404
    batch = await api.http.post("/v1/urls", headers=api.alice, json={"ids": [obj["id"]]})
    assert batch.json()["urls"][0]["error"]["code"] == "not_found"
    patch = await api.http.patch(f"/v1/audio/{obj['id']}", headers=api.alice, json={"clear_expiry": True})
    assert patch.status_code == 404  # an expired object cannot be revived
    assert (await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404

    # Nothing was swept yet: the row and blob are still there, just invisible.
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1

    result = await run_job(api.runtime, "sweep_expired")
    assert result.counts == {"expired": 1, "deleted": 1, "left_for_retry": 0}
    assert await api.row_count() == 0
    assert await api.blob_keys() == []


async def test_patch_expiry_then_sweep_spares_the_living(api: Api, tones: dict[str, Path]) -> None:
    keep = (await api.upload(tones["wav"])).json()
    doomed = (await api.upload(tones["mp3"], ttl_seconds=3600)).json()
    extended = (await api.upload(tones["flac"], ttl_seconds=60)).json()
    r = await api.http.patch(f"/v1/audio/{extended['id']}", headers=api.alice, json={"ttl_seconds": 7200})
    assert r.status_code == 200
    r = await api.http.patch(f"/v1/audio/{keep['id']}", headers=api.alice, json={"ttl_seconds": 10})
    r = await api.http.patch(f"/v1/audio/{keep['id']}", headers=api.alice, json={"clear_expiry": True})
    assert r.json()["expires_at"] is None

    api.clock.advance(3601)
    results = {r.job: r for r in await run_jobs_once(api.runtime)}
    assert all(r.error is None for r in results.values()), results
    assert results["sweep_expired"].counts["expired"] == 1
    assert (await api.http.get(f"/v1/audio/{doomed['id']}", headers=api.alice)).status_code == 404
    for alive in (keep, extended):
        got = await api.http.get(f"/v1/audio/{alive['id']}/content", headers=api.alice,
                                 follow_redirects=True)
        assert got.status_code == 200
    assert sorted(await api.blob_keys()) == sorted([keep["key"], extended["key"]])

    # A second run finds nothing more to do (jobs are idempotent).
    again = {r.job: r.counts for r in await run_jobs_once(api.runtime)}
    assert again["sweep_expired"]["expired"] == 0


async def test_sweep_works_in_batches(settings_factory: Callable[..., Settings], tones: dict[str, Path]) -> None:
    api, runtime = await make_api(settings_factory(auth_cache_seconds=0, sweep_batch_size=2))
    try:
        ids = [(await api.upload(tones["wav"], ttl_seconds=10)).json()["id"] for _ in range(5)]
        live = (await api.upload(tones["wav"], ttl_seconds=100)).json()
        assert len(set(ids)) == 5
        api.clock.advance(11)
        result = await run_job(runtime, "sweep_expired")
        assert result.counts == {"expired": 5, "deleted": 5, "left_for_retry": 0}
        assert await api.row_count() == 1
        assert await api.blob_keys() == [live["key"]]
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_collection_default_ttl(settings_factory: Callable[..., Settings], tones: dict[str, Path]) -> None:
    api, runtime = await make_api(
        settings_factory(auth_cache_seconds=0, collection_ttls="tts=24h,scratch=1h")
    )
    try:
        tts = (await api.upload(tones["wav"], collection="tts")).json()
        scratch = (await api.upload(tones["wav"], collection="scratch", ttl_seconds=60)).json()
        kept = (await api.upload(tones["wav"], collection="takes")).json()
        created = datetime.fromisoformat(tts["created_at"])
        assert datetime.fromisoformat(tts["expires_at"]) - created == timedelta(hours=24)
        # An explicit ttl_seconds wins over the collection's default.
        assert datetime.fromisoformat(scratch["expires_at"]) - created == timedelta(seconds=60)
        assert kept["expires_at"] is None
        api.clock.advance(86401)
        assert (await api.http.get(f"/v1/audio/{tts['id']}", headers=api.alice)).status_code == 404
        assert (await api.http.get(f"/v1/audio/{kept['id']}", headers=api.alice)).status_code == 200
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_admin_cleanup_removes_old_audio(api: Api, tones: dict[str, Path]) -> None:
    old_takes = (await api.upload(tones["wav"], collection="takes")).json()
    old_other = (await api.upload(tones["wav"], collection="other")).json()
    api.clock.advance(8 * 86400)
    new_takes = (await api.upload(tones["wav"], collection="takes")).json()

    body = {"older_than": "7d", "collection": "takes"}
    denied = await api.http.post("/v1/admin/cleanup", headers=api.alice, json=body)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert (await api.http.post("/v1/admin/cleanup", json=body)).status_code == 401
    for bad in ({"older_than": "soon"}, {"older_than": "0s"}, {"older_than": -5}, {},
                {"older_than": "99999999999999999d"}, {"older_than": 1e300}):  # these two were 500s
        r = await api.http.post("/v1/admin/cleanup", headers=api.admin, json=bad)
        assert r.status_code == 422, (bad, r.text)
    for raw in ('{"older_than": NaN}', '{"older_than": Infinity}'):  # Python's json reads both
        r = await api.http.post("/v1/admin/cleanup", content=raw,
                                headers={**api.admin, "content-type": "application/json"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_failed"), (raw, r.text)
    assert await api.row_count() == 3

    r = await api.http.post("/v1/admin/cleanup", headers=api.admin, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": 1, "deleted": 1, "left_for_retry": 0}
    assert (await api.http.get(f"/v1/audio/{old_takes['id']}", headers=api.alice)).status_code == 404
    for alive in (old_other, new_takes):
        assert (await api.http.get(f"/v1/audio/{alive['id']}", headers=api.alice)).status_code == 200
    assert sorted(await api.blob_keys()) == sorted([old_other["key"], new_takes["key"]])

    r = await api.http.post("/v1/admin/cleanup", headers=api.admin, json={"older_than": 86400})
    assert r.json()["deleted"] == 1
    assert await api.blob_keys() == [new_takes["key"]]


async def test_admin_sweep_reports_every_job(api: Api) -> None:
    assert (await api.http.post("/v1/admin/sweep", headers=api.alice)).status_code == 403
    r = await api.http.post("/v1/admin/sweep", headers=api.admin)
    assert r.status_code == 200
    jobs = {j["job"]: j for j in r.json()["jobs"]}
    assert set(jobs) >= {"sweep_expired", "retry_deletes", "resolve_stale_pending", "drain_spool",
                         "remove_stale_temp_files"}
    assert all(j["error"] is None for j in jobs.values())


async def test_presigned_urls_never_outlive_their_object(
    settings_factory: Callable[..., Settings], tones: dict[str, Path], backend: str
) -> None:
    """A presigned S3 URL cannot be revoked, so it ends when its object does. (Service URLs
    are checked on every request: they answer 404 once the object expired.)"""
    if backend == "local":
        pytest.skip(reason="local disk hands out service URLs only (see the 404 test above)")
    api, runtime = await make_api(settings_factory(auth_cache_seconds=0, signed_urls="direct"))
    try:
        obj = (await api.upload(tones["wav"], ttl_seconds=90)).json()
        expires = datetime.fromisoformat(obj["expires_at"])
        assert datetime.fromisoformat(obj["url_expires_at"]) <= expires
        r = await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice,
                                json={"expires_in": 3600})
        assert datetime.fromisoformat(r.json()["expires_at"]) <= expires
        assert "X-Amz-Expires=90" in r.json()["url"]
        forever = (await api.upload(tones["wav"])).json()
        r = await api.http.post(f"/v1/audio/{forever['id']}/url", headers=api.alice,
                                json={"expires_in": 3600})
        assert "X-Amz-Expires=3600" in r.json()["url"]
    finally:
        await api.http.aclose()
        await runtime.close()
