"""Real faults on real SeaweedFS + PostgreSQL: the bucket goes away, uploads land in the
local spool, deletes still answer 204, the service restarts; when the bucket answers again
one job run leaves it holding exactly the live objects, byte for byte."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, backend_settings_s3, make_api
from fixtures_postgres import Postgres
from restartable_seaweedfs import RestartableSeaweedFS, weed_to_break  # noqa: F401

from audiostore.jobs import run_jobs_once

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


def bucket_state(weed: RestartableSeaweedFS, bucket: str) -> dict[str, str]:
    """key -> sha256 of its bytes, read from outside with boto3."""
    assert weed.server is not None
    client = weed.server.boto3()
    out: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            out[item["Key"]] = hashlib.sha256(body).hexdigest()
    return out


async def test_outage_spools_uploads_keeps_deletes_and_heals(
    weed_to_break: RestartableSeaweedFS, postgres: Postgres, tmp_path: Path,  # noqa: F811
    tones: dict[str, Path],
) -> None:
    weed = weed_to_break
    assert weed.server is not None
    bucket = weed.server.new_bucket()
    database = postgres.new_database()
    settings = backend_settings_s3(
        tmp_path, weed.server, bucket, database, signed_urls="direct", fallback="spool",
        auth_cache_seconds=0, sweep_interval=0,
    )
    api, runtime = await make_api(settings)
    files = [tones[f] for f in ("wav", "mp3", "flac", "ogg", "opus", "aiff")]
    try:
        before = [(await api.upload(files[i % 6])).json() for i in range(3)]
        assert all(o["location"] == "primary" for o in before)

        weed.stop()
        during = []
        for i in range(6):
            r = await api.upload(files[i % 6])
            assert r.status_code == 201, r.text  # the outage is invisible to the client
            during.append(r.json())
        assert all(o["location"] == "spool" for o in during)
        # Spooled bytes are served from the spool: by key, and by the URL handed out at upload
        # (a service URL, since the bucket does not hold them yet).
        for obj, path in zip(during, files, strict=True):
            got = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
            assert got.status_code == 200 and got.content == path.read_bytes()
            assert obj["url"].startswith("http://testserver/")
            signed = await api.http.get(obj["url"].removeprefix("http://testserver"))
            assert signed.status_code == 200 and signed.content == path.read_bytes()
        part = await api.http.get(f"/v1/audio/{during[0]['id']}/content",
                                  headers={**api.alice, "Range": "bytes=4-11"})
        assert part.status_code == 206 and part.content == files[0].read_bytes()[4:12]

        deleted = [before[0], before[1], during[0], during[3]]
        for obj in deleted:
            r = await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)
            assert r.status_code == 204
            assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404
    finally:
        await api.http.aclose()
        await runtime.close()

    # A restart while the bucket is still down loses nothing: the spool is on disk.
    api, runtime = await make_api(settings)
    try:
        live = [before[2]] + [o for o in during if o not in deleted]
        for obj in live[1:]:
            got = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
            assert got.status_code == 200
            assert hashlib.sha256(got.content).hexdigest() == obj["sha256"]

        # Another instance (same catalogue and bucket, its own data dir) does not hold the
        # spool: it answers 503 naming the spool, not a 404 that would look like data loss.
        other, other_runtime = await make_api(settings.model_copy(update={"data_dir": tmp_path / "other"}))
        spooled = live[1]
        away = await other.http.get(f"/v1/audio/{spooled['id']}/content", headers=api.alice)
        assert away.status_code == 503 and "spool" in away.json()["error"]["message"]

        weed.start()
        results = {r.job: r for r in await run_jobs_once(runtime)}
        assert all(r.error is None for r in results.values()), results
        assert results["drain_spool"].counts == {"moved": 4, "dropped": 0, "waiting": 0}
        assert results["retry_deletes"].counts["deleted"] == 4

        # From the outside: exactly the live objects, every one with its bytes intact.
        state = bucket_state(weed, bucket)
        assert state == {o["key"]: o["sha256"] for o in live}
        assert not [p for p in (tmp_path / "data" / "spool").rglob("*") if p.is_file()]
        assert await api.row_count() == len(live)
        for obj in live:
            now = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
            assert now["location"] == "primary"
            # Now served by the bucket itself (direct mode: a presigned redirect).
            r = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
            assert r.status_code == 307
            assert httpx.get(r.headers["location"]).content == next(
                p.read_bytes() for p in files if hashlib.sha256(p.read_bytes()).hexdigest() == obj["sha256"]
            )
        again = {r.job: r.counts for r in await run_jobs_once(runtime)}
        assert again["drain_spool"]["moved"] == 0 and again["retry_deletes"]["retried"] == 0
        # Drained: the other instance reads it from the bucket like any other object.
        there = await other.http.get(f"/v1/audio/{spooled['id']}/content", headers=api.alice)
        assert there.status_code == 307
        assert hashlib.sha256(httpx.get(there.headers["location"]).content).hexdigest() == spooled["sha256"]
    finally:
        await api.http.aclose()
        await runtime.close()
        if "other" in locals():
            await other.http.aclose()
            await other_runtime.close()
        postgres.drop_database(database)


@asynccontextmanager
async def api_on_a_bucket_nobody_serves(
    postgres: Postgres, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Api]:
    """An S3 + PostgreSQL service whose bucket endpoint is a port nothing listens on."""
    from server_process import free_port

    database = postgres.new_database()
    nobody = f"http://127.0.0.1:{free_port()}"
    fake = type("Endpoint", (), {"endpoint": nobody, "region": "us-east-1",
                                 "access_key": "k", "secret_key": "s"})()
    settings = backend_settings_s3(tmp_path, fake, "gone", database, auth_cache_seconds=0,  # type: ignore[arg-type]
                                   **overrides)
    api, runtime = await make_api(settings)
    try:
        yield api
    finally:
        await api.http.aclose()
        await runtime.close()
        postgres.drop_database(database)


async def test_fallback_off_answers_503_and_writes_nothing(
    postgres: Postgres, tmp_path: Path, tones: dict[str, Path]
) -> None:
    """With the spool off, an unreachable bucket (nothing listens on its port) is a 503."""
    async with api_on_a_bucket_nobody_serves(postgres, tmp_path, fallback="off") as api:
        r = await api.upload(tones["wav"])
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "storage_unavailable"
        assert await api.row_count() == 0
        assert not (tmp_path / "data" / "spool").exists()
        assert not [p for p in (tmp_path / "data" / "tmp").glob("*")]


async def test_info_says_when_uploads_are_spooled_and_how_many_wait(
    postgres: Postgres, tmp_path: Path, tones: dict[str, Path]
) -> None:
    """Seed 001's troubleshooting asks "did the local fallback trigger?": /v1/info answers."""
    async with api_on_a_bucket_nobody_serves(postgres, tmp_path) as api:
        before = (await api.http.get("/v1/info", headers=api.alice)).json()["store"]
        assert (before["fallback"], before["spooling_now"], before["spooled_objects"]) == ("spool", False, 0)
        stored = await api.upload(tones["wav"])
        assert stored.status_code == 201 and stored.json()["location"] == "spool"
        after = (await api.http.get("/v1/info", headers=api.alice)).json()["store"]
        assert (after["spooling_now"], after["spooled_objects"]) == (True, 1)
