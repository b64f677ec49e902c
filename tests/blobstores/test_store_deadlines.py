"""Every S3 store call has a deadline: against a bucket that takes the connection and never
answers, each verb fails as `BlobStoreUnavailable` within its bound (not after obstore's
minutes of retries); and a slow *reader* of a healthy bucket never trips the stall bound."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from audiostore.blobstores import BlobStoreUnavailable, StoreDeadlineExceeded
from audiostore.blobstores.deadlines import StoreDeadlines
from audiostore.blobstores.s3 import PART_SIZE, S3BlobStore
from audiostore.settings import Settings
from fixtures_seaweedfs import SeaweedFS
from silent_listener import SilentListener, silent_listener

DEADLINES = StoreDeadlines(connect=1.0, first_byte=1.0, call=2.0)
SLACK = 5.0  # generous: a loaded machine, never a tight timing


def _frozen_store(listener: SilentListener) -> S3BlobStore:
    return S3BlobStore(bucket="frozen", endpoint=listener.endpoint, access_key_id="k",
                       secret_access_key="s", allow_http=True, deadlines=DEADLINES)


async def _fails_within(seconds: float, call: Callable[[], Awaitable[Any]]) -> float:
    """The call fails as "did not answer in time" (so may still take effect), within bound."""
    started = time.monotonic()
    with pytest.raises(StoreDeadlineExceeded):
        await asyncio.wait_for(call(), timeout=seconds + 60)  # a hang fails the test, not CI
    took = time.monotonic() - started
    assert took < seconds + SLACK, f"took {took:.1f} s, the deadline is {seconds} s"
    return took


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def test_every_call_to_a_silent_bucket_ends_within_its_deadline(tmp_path: Path) -> None:
    small = tmp_path / "small.wav"
    small.write_bytes(b"x" * 4096)
    large = tmp_path / "large.wav"  # a multipart upload: three parts
    large.write_bytes(b"y" * (2 * PART_SIZE + 1))
    with silent_listener() as listener:
        store = _frozen_store(listener)
        key = "a/b/2026-01-01/x.wav"
        # All at once, each on its own connection and timed from its own start: the bounds
        # are each call's, so waiting them out one after another would only add them up.
        await asyncio.gather(
            _fails_within(DEADLINES.call, lambda: store.put_file(key, small, content_type="audio/wav")),
            _fails_within(DEADLINES.call * 2, lambda: store.put_file(key, large, content_type="audio/wav")),
            _fails_within(DEADLINES.first_byte, lambda: _drain(store.get_stream(key))),
            _fails_within(DEADLINES.first_byte, lambda: _drain(store.get_stream(key, start=5, end=50))),
            _fails_within(DEADLINES.call, lambda: store.get_range(key, 0, 16)),
            _fails_within(DEADLINES.first_byte, lambda: store.head(key)),
            _fails_within(DEADLINES.call, lambda: store.delete_many([key, "other"])),
            _fails_within(DEADLINES.call, lambda: _drain(store.list("a/"))),
        )
        assert await store.rejected_credentials() is None  # down is not "wrong credentials"

        writer = store.open_writer(key, content_type="audio/wav")

        async def stream_and_complete() -> None:
            for _ in range(3):
                await writer.write(b"z" * (PART_SIZE // 2))
            await writer.complete()

        await _fails_within(DEADLINES.call * 2 + DEADLINES.call, stream_and_complete)
        started = time.monotonic()
        await writer.abort()  # the store is not answering: no second wait
        assert time.monotonic() - started < 1.0
        # Signing with static keys needs no round trip: it works while the bucket is frozen.
        assert "X-Amz-Signature=" in await store.sign_get(key, expires_in=60)
        assert listener.accepted >= 1  # the calls did reach the listener (not refused)


async def test_a_slow_reader_of_a_healthy_bucket_gets_every_byte(
    seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    """The stall bound runs only while a piece is awaited: a client that takes longer than
    `first_byte` between pieces still gets the whole blob."""
    store = S3BlobStore(bucket=s3_bucket, endpoint=seaweedfs.endpoint, region=seaweedfs.region,
                        access_key_id=seaweedfs.access_key, secret_access_key=seaweedfs.secret_key,
                        allow_http=True, deadlines=StoreDeadlines(connect=2, first_byte=0.5, call=10))
    body = bytes(range(256)) * 4096  # 1 MiB: four 256 KiB pieces
    src = tmp_path / "slow.bin"
    src.write_bytes(body)
    await store.put_file("slow/reader.bin", src, content_type="application/octet-stream")
    got = bytearray()
    async for chunk in store.get_stream("slow/reader.bin"):
        got += chunk
        await asyncio.sleep(0.8)  # longer than first_byte, each time
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()


async def test_a_refused_connection_is_down_not_in_doubt(tmp_path: Path) -> None:
    """Nothing listens: the put cannot have landed, so it is no missed deadline (the service
    removes such an upload's row at once instead of leaving its key to the retry job)."""
    src = tmp_path / "x.wav"
    src.write_bytes(b"abc")
    from server_process import free_port

    store = S3BlobStore(bucket="b", endpoint=f"http://127.0.0.1:{free_port()}", access_key_id="k",
                        secret_access_key="s", allow_http=True, deadlines=DEADLINES)
    with pytest.raises(BlobStoreUnavailable) as refused:
        await store.put_file("k.wav", src, content_type="audio/wav")
    assert not isinstance(refused.value, StoreDeadlineExceeded)


def test_the_deadlines_come_from_the_settings() -> None:
    settings = Settings(store="s3", s3_bucket="b", s3_connect_timeout_seconds=1.5,
                        s3_first_byte_timeout_seconds=2.5, s3_call_timeout_seconds=7)
    store = S3BlobStore.from_settings(settings)
    assert store.deadlines == StoreDeadlines(connect=1.5, first_byte=2.5, call=7)
    assert S3BlobStore(bucket="b", access_key_id="k", secret_access_key="s").deadlines == StoreDeadlines()


async def test_a_streamed_write_that_misses_its_deadline_sends_the_upload_to_the_spool(tmp_path: Path) -> None:
    """An upload streamed to the bucket while it arrives, whose bucket stops answering: once
    the write fails, its own fallback put (and the uploads right behind) go straight to the
    spool instead of waiting out the same deadline again."""
    from audiostore.blobstores.local import LocalBlobStore
    from audiostore.blobstores.spooling import SPOOL, SpoolingBlobStore

    src = tmp_path / "x.wav"
    src.write_bytes(b"w" * (PART_SIZE + 1))
    with silent_listener() as listener:
        store = SpoolingBlobStore(_frozen_store(listener), LocalBlobStore(tmp_path / "spool"))
        writer = store.open_writer("a/x.wav", content_type="audio/wav")

        async def stream() -> None:
            await writer.write(src.read_bytes())
            await writer.complete()

        await _fails_within(DEADLINES.call * 2, stream)
        assert store.spooling_now
        started = time.monotonic()
        assert await store.put_file("a/x.wav", src, content_type="audio/wav") == SPOOL
        assert time.monotonic() - started < 1.0
        assert store.spooled_path("a/x.wav") is not None
        with pytest.raises(BlobStoreUnavailable):  # no new streamed write while it is down
            store.open_writer("a/y.wav", content_type="audio/wav")


async def test_an_upload_whose_put_missed_its_deadline_leaves_its_key_to_the_retry_job(
    tmp_path: Path, tones: dict[str, Path]
) -> None:
    """With the spool off, the put of a refused upload may still land once a frozen bucket
    resumes: the 503 leaves no visible object, frees the Idempotency-Key, and hands the row to
    `retry_deletes` (which deletes whatever the key holds, then the row) instead of forgetting it."""
    from datetime import timedelta

    from conftest import make_api

    with silent_listener() as listener:
        settings = Settings(
            data_dir=tmp_path / "data", public_url="http://testserver", store="s3",
            s3_bucket="silent", s3_endpoint=listener.endpoint, s3_allow_http=True,
            s3_access_key_id="k", s3_secret_access_key="s", fallback="off", sweep_interval=0,
            s3_connect_timeout_seconds=DEADLINES.connect,
            s3_first_byte_timeout_seconds=DEADLINES.first_byte,
            s3_call_timeout_seconds=DEADLINES.call,
        )
        api, runtime = await make_api(settings)
        try:
            key = {**api.alice, "Idempotency-Key": "in-doubt-1"}
            for _ in range(2):  # the key is free again after the failure: no 409
                started = time.monotonic()
                r = await api.upload(tones["wav"], headers=key)
                assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
                assert r.headers["retry-after"].isdigit()
                assert time.monotonic() - started < DEADLINES.call + SLACK
            assert (await api.http.get("/v1/audio", headers=api.alice)).json()["items"] == []
            now = runtime.clock()
            due = await runtime.catalog.claims.claim_due_deletes(
                now=now, stale_before=now - timedelta(hours=1), lease_until=now + timedelta(minutes=5),
                limit=10,
            )
            assert len(due) == 2 == await api.row_count()
            assert all(row.state == "deleting" and row.sha256 for row in due)
        finally:
            await api.http.aclose()
            await runtime.close()
