"""Large uploads to S3 go to the bucket while they arrive (the early put), and every way an
upload can fail still leaves nothing: no row, no blob, no multipart upload in the bucket.
Checked from the outside with boto3 against the real SeaweedFS."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audio_factory import write_wav
from audiostore import metrics
from audiostore.jobs import run_job
from audiostore.runtime import Runtime
from audiostore.service import Principal, UploadFields
from audiostore.settings import Settings
from conftest import Api, backend_settings_s3, make_api
from fixtures_seaweedfs import SeaweedFS

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

BIG = 9 * 1024 * 1024  # over one 8 MiB part: an early put


@pytest.fixture
async def s3api(tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str) -> AsyncIterator[Api]:
    settings = backend_settings_s3(
        tmp_path, seaweedfs, s3_bucket, postgres_url, auth_cache_seconds=0,
        max_upload_bytes=12 * 1024 * 1024,
    )
    a, runtime = await make_api(settings)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def early_puts(outcome: str) -> float:
    return metrics.EARLY_PUTS.labels(outcome)._value.get()  # noqa: SLF001


def multipart_uploads(seaweedfs: SeaweedFS, bucket: str) -> list[dict]:
    return seaweedfs.boto3().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def bucket_keys(seaweedfs: SeaweedFS, bucket: str) -> list[str]:
    listed = seaweedfs.boto3().list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


async def test_a_large_upload_goes_to_the_bucket_while_it_arrives(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "long.wav", BIG)
    body = wav.read_bytes()
    before = early_puts("completed")
    r = await s3api.http.post(
        "/v1/audio", params={"collection": "takes"}, content=chunks(wav),
        headers={**s3api.alice, "Content-Type": "audio/wav", "Content-Length": str(len(body))},
    )
    assert r.status_code == 201, r.text
    obj = r.json()
    assert early_puts("completed") == before + 1
    assert obj["size"] == len(body) and obj["sha256"] == hashlib.sha256(body).hexdigest()
    assert obj["key"].startswith("alice/takes/") and obj["key"].endswith(".wav")
    assert obj["duration"] > 20 and obj["analysis"] == "pending"
    stored = seaweedfs.boto3().get_object(Bucket=s3_bucket, Key=obj["key"])
    assert stored["ContentType"] == "audio/wav"
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == obj["sha256"]
    assert multipart_uploads(seaweedfs, s3_bucket) == []
    await s3api.settled()
    got = (await s3api.http.get(f"/v1/audio/{obj['id']}", headers=s3api.alice)).json()
    assert got["analysis"] == "done"


async def test_multipart_fields_after_the_file_still_name_the_key(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    """A client that sends `collection` after the file: the early put went to a key without
    it, so it is abandoned and the file is put under the right key."""
    wav = write_wav(tmp_path / "late.wav", BIG)
    boundary = "latefieldsboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n"
            f"late\r\n--{boundary}--\r\n").encode()
    abandoned = early_puts("abandoned")

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for chunk in chunks(wav):
            yield chunk
        yield tail

    length = len(head) + wav.stat().st_size + len(tail)
    r = await s3api.http.post(
        "/v1/audio", content=body(),
        headers={**s3api.alice, "Content-Type": f"multipart/form-data; boundary={boundary}",
                 "Content-Length": str(length)},
    )
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["collection"] == "late" and obj["key"].startswith("alice/late/")
    assert early_puts("abandoned") == abandoned + 1
    assert bucket_keys(seaweedfs, s3_bucket) == [obj["key"]]
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_truncated_large_audio_writes_nothing(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "cut.wav", BIG, declared_extra=4 * 1024 * 1024)
    aborted = early_puts("aborted")
    r = await s3api.http.post(
        "/v1/audio", content=wav.read_bytes(), headers={**s3api.alice, "Content-Type": "audio/wav"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "undecodable_audio"
    assert early_puts("aborted") == aborted + 1
    assert await s3api.row_count() == 0
    assert bucket_keys(seaweedfs, s3_bucket) == []
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_an_upload_that_outgrows_the_limit_midway_writes_nothing(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    """No Content-Length (chunked): the limit stops it only once it has grown too large,
    after parts of it have reached the bucket."""
    wav = write_wav(tmp_path / "huge.wav", 14 * 1024 * 1024)
    aborted = early_puts("aborted")
    r = await s3api.http.post(
        "/v1/audio", content=chunks(wav), headers={**s3api.alice, "Content-Type": "audio/wav"}
    )
    assert r.status_code == 413
    assert early_puts("aborted") == aborted + 1
    assert await s3api.row_count() == 0
    assert bucket_keys(seaweedfs, s3_bucket) == []
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_a_replayed_idempotent_upload_leaves_no_second_blob(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "twice.wav", BIG)
    headers = {**s3api.alice, "Content-Type": "audio/wav", "Idempotency-Key": "take-1"}
    first = await s3api.http.post("/v1/audio", content=wav.read_bytes(), headers=headers)
    second = await s3api.http.post("/v1/audio", content=wav.read_bytes(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert bucket_keys(seaweedfs, s3_bucket) == [first.json()["key"]]
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_an_early_put_abandoned_by_a_crash_is_rolled_back(
    s3api: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    """The process died while the body arrived: a `pending` row with no facts and an
    unfinished multipart upload. The stale-pending job rolls the row back."""
    wav = write_wav(tmp_path / "crash.wav", BIG).read_bytes()
    ingest = s3api.runtime.ingest
    early = await ingest.begin_early_put(Principal("alice"), UploadFields(), "crash.wav", wav[:4096])
    assert early is not None
    await early.send(wav)  # more than a part: a multipart upload is under way, then the crash
    assert await s3api.row_count() == 1
    s3api.clock.advance(s3api.runtime.settings.pending_grace + 1)
    result = await run_job(s3api.runtime, "resolve_stale_pending")
    assert result.counts["rolled_back"] == 1
    assert await s3api.row_count() == 0
    assert bucket_keys(seaweedfs, s3_bucket) == []
    await early.writer.abort()  # what the bucket's AbortIncompleteMultipartUpload rule does
    assert multipart_uploads(seaweedfs, s3_bucket) == []


async def test_a_long_upload_keeps_its_intent_row_fresh(s3api: Api, tmp_path: Path) -> None:
    """An upload that takes longer than the pending grace must not be rolled back under it."""
    wav = write_wav(tmp_path / "slow.wav", BIG).read_bytes()
    ingest = s3api.runtime.ingest
    early = await ingest.begin_early_put(Principal("alice"), UploadFields(), "slow.wav", wav[:4096])
    assert early is not None
    try:
        grace = s3api.runtime.settings.pending_grace
        for offset in range(0, len(wav), 3 * 1024 * 1024):  # the client is slow: hours pass
            s3api.clock.advance(grace / 2)
            early._last_touch -= grace  # noqa: SLF001 - as much wall time passed as the clock says
            await early.send(wav[offset : offset + 3 * 1024 * 1024])
        result = await run_job(s3api.runtime, "resolve_stale_pending")
        assert result.counts["rolled_back"] == 0
        assert await s3api.row_count() == 1
    finally:
        await early.abort()
    assert await s3api.row_count() == 0


async def test_small_uploads_and_local_stores_need_no_early_put(s3api: Api, tmp_path: Path) -> None:
    ingest = s3api.runtime.ingest
    assert ingest.wants_early_put(BIG) and ingest.wants_early_put(None)
    assert not ingest.wants_early_put(1024 * 1024)
    local = Runtime.build(Settings(data_dir=tmp_path / "local"))
    try:
        assert not local.ingest.wants_early_put(None)  # a local put is a hard link: nothing to gain
    finally:
        await local.close()
