"""Two `audiostore worker` processes on one PostgreSQL and one bucket split the expiry sweep:
every expired object is deleted exactly once and none is missed."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from conftest import backend_settings_s3
from expired_seed import seed_expired
from fixtures_seaweedfs import SeaweedFS
from worker_process import WorkerProcess

from audiostore.runtime import Runtime

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

EXPIRED = 2000
LIVE = 50


def worker_env(settings_env: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {**os.environ, **settings_env, "AUDIOSTORE_DATA_DIR": str(data_dir)}


async def test_two_workers_delete_each_expired_object_exactly_once(
    seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    settings = backend_settings_s3(tmp_path, seaweedfs, s3_bucket, postgres_url)
    expired_keys, live_keys = await seed_expired(settings, tmp_path, expired=EXPIRED, live=LIVE, owner="load")

    env = {
        "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": s3_bucket,
        "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint, "AUDIOSTORE_S3_REGION": seaweedfs.region,
        "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key, "AUDIOSTORE_S3_ALLOW_HTTP": "true",
        "AUDIOSTORE_DATABASE_URL": postgres_url, "AUDIOSTORE_SWEEP_INTERVAL": "0.2",
        "AUDIOSTORE_SWEEP_BATCH_SIZE": "50",
    }
    workers = [WorkerProcess(worker_env(env, tmp_path / f"worker{i}"), tmp_path, f"worker{i}").start()
               for i in range(2)]
    try:
        rt = Runtime.build(settings)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and await rt.catalog.count_rows() > LIVE:
                assert all(w.proc is not None and w.proc.poll() is None for w in workers), "a worker died"
                await asyncio.sleep(0.5)
            assert await rt.catalog.count_rows() == LIVE
        finally:
            await rt.close()
        # On a loaded machine one worker may have done all the work before the other even
        # finished starting; a stop is only promised once it has said it started.
        for w in workers:
            w.wait_started()
    finally:
        statuses = [w.stop() for w in workers]
    assert statuses == [0, 0], [w.stderr[-2000:] for w in workers]
    outputs = [w.stdout for w in workers]

    runs = [json.loads(line) for out in outputs for line in out.splitlines() if line.strip()]
    sweeps = [r for r in runs if r["job"] == "sweep_expired"]
    assert all(r["error"] is None for r in runs)
    # Claims are exclusive: the workers' claims add up to exactly the expired objects.
    assert sum(r["counts"]["expired"] for r in sweeps) == EXPIRED
    assert sum(r["counts"]["deleted"] for r in sweeps) == EXPIRED
    per_worker = [
        sum(json.loads(x)["counts"].get("expired", 0) for x in out.splitlines()
            if x.strip() and json.loads(x)["job"] == "sweep_expired")
        for out in outputs
    ]
    assert sum(per_worker) == EXPIRED

    client = seaweedfs.boto3()
    left = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
            for o in page.get("Contents", [])]
    assert sorted(left) == sorted(live_keys)
