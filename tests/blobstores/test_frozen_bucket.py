"""A bucket that stops answering never holds a request: real `audiostore serve` processes
on a real SeaweedFS that is frozen (SIGSTOP: it keeps its port, the kernel takes the
connections, nothing answers) during uploads, downloads and deletes.

Each request answers within the configured store deadline plus a generous margin: an upload
goes to the spool (or is a 503 with the spool off), a read is a 503 with `Retry-After`, a
delete is a 204 left to the retry job. When the bucket answers again (SIGCONT) nothing is
lost: every 201's bytes come back with the sha256 they were sent with, spooled objects drain
to the bucket, the deleted blob goes, an upload retried with the same `Idempotency-Key`
after its client gave up is stored once, and the bucket ends up holding exactly the 201s.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from audio_factory import write_wav
from restartable_seaweedfs import RestartableSeaweedFS, weed_to_break  # noqa: F401
from server_process import ServerProcess, start_together

from audiostore.blobstores.spooling import _PRIMARY_COOLDOWN_SECONDS

pytestmark = pytest.mark.s3

CONNECT, FIRST_BYTE, CALL = 2.0, 2.0, 3.0
MARGIN = 10.0  # generous: the bound is "seconds, not minutes", never a tight timing
# The slowest documented answer: an upload streamed to the bucket while it arrived (over
# 8 MiB) waits out its multipart completion (2 x CALL) before it goes to the spool.
UPLOAD_BOUND = 2 * CALL + MARGIN


def _server(tmp_path: Path, name: str, weed: RestartableSeaweedFS, bucket: str, fallback: str) -> ServerProcess:
    """A server (not started yet) with a catalogue of its own on `bucket`."""
    assert weed.server is not None
    data = tmp_path / name / "data"
    data.parent.mkdir(parents=True)
    return ServerProcess(data, env={
        "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": bucket,
        "AUDIOSTORE_S3_ENDPOINT": weed.endpoint, "AUDIOSTORE_S3_REGION": weed.server.region,
        "AUDIOSTORE_S3_ACCESS_KEY_ID": weed.server.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": weed.server.secret_key,
        "AUDIOSTORE_S3_ALLOW_HTTP": "true", "AUDIOSTORE_SIGNED_URLS": "proxy",
        "AUDIOSTORE_FALLBACK": fallback,
        "AUDIOSTORE_S3_CONNECT_TIMEOUT_SECONDS": str(CONNECT),
        "AUDIOSTORE_S3_FIRST_BYTE_TIMEOUT_SECONDS": str(FIRST_BYTE),
        "AUDIOSTORE_S3_CALL_TIMEOUT_SECONDS": str(CALL),
        "AUDIOSTORE_SWEEP_INTERVAL": "1", "AUDIOSTORE_DELETE_RETRY_BASE": "1",
        "AUDIOSTORE_DELETE_RETRY_MAX": "2", "AUDIOSTORE_ACCESS_LOG": "false",
    })


@contextmanager
def frozen(weed: RestartableSeaweedFS) -> Iterator[None]:
    """SeaweedFS stopped in its tracks (its whole process group), and always resumed."""
    assert weed.server is not None
    group = weed.server.proc.pid
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


class Client:
    def __init__(self, server: ServerProcess) -> None:
        key = (server.data_dir / "admin.key").read_text().strip()
        self.auth = {"Authorization": f"Bearer {key}"}
        self.http = httpx.Client(base_url=server.url, timeout=UPLOAD_BOUND + 60)

    def upload(self, body: bytes, *, timeout: float | None = None, **headers: str) -> httpx.Response:
        return self.http.post("/v1/audio", content=body, timeout=timeout or self.http.timeout,
                              headers={**self.auth, "Content-Type": "audio/wav", **headers})

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers=self.auth)


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wav(tmp_path: Path, size: int) -> bytes:
    """A distinct valid WAV of `size` bytes (sizes differ, so contents and hashes differ)."""
    return write_wav(tmp_path / f"tone-{size}.wav", size).read_bytes()


def reconcile(server: ServerProcess) -> dict[str, Any]:
    """`audiostore reconcile --fix` on a server's catalogue and bucket, judging every blob."""
    r = subprocess.run(
        [sys.executable, "-m", "audiostore", "reconcile", "--fix", "--grace", "0s", "--json"],
        env=server.env, capture_output=True, text=True, timeout=120, cwd=server.data_dir.parent,
    )
    assert r.returncode in (0, 3), r.stdout + r.stderr
    report: dict[str, Any] = json.loads(r.stdout)
    return report


def bucket_hashes(weed: RestartableSeaweedFS, bucket: str) -> dict[str, str]:
    assert weed.server is not None
    s3 = weed.server.boto3()
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = sha(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return found


def test_a_frozen_bucket_never_holds_a_request_and_loses_nothing(
    weed_to_break: RestartableSeaweedFS, tmp_path: Path  # noqa: F811
) -> None:
    weed = weed_to_break
    assert weed.server is not None
    spooling_bucket, strict_bucket = weed.server.new_bucket(), weed.server.new_bucket()
    spooling = _server(tmp_path, "spooling", weed, spooling_bucket, "spool")
    strict = _server(tmp_path, "strict", weed, strict_bucket, "off")
    start_together(spooling, strict)  # separate catalogues: nothing to race on
    try:
        api, off = Client(spooling), Client(strict)
        sent: dict[str, bytes] = {}  # id -> the bytes of every 201

        def stored(response: httpx.Response, body: bytes, location: str) -> dict[str, Any]:
            assert response.status_code == 201, response.text
            obj: dict[str, Any] = response.json()
            assert obj["sha256"] == sha(body) and obj["location"] == location
            sent[obj["id"]] = body
            return obj

        kept = stored(api.upload(wav(tmp_path, 200_000)), wav(tmp_path, 200_000), "primary")
        doomed = stored(api.upload(wav(tmp_path, 201_000)), wav(tmp_path, 201_000), "primary")
        strict_kept = stored(off.upload(wav(tmp_path, 202_000)), wav(tmp_path, 202_000), "primary")
        big, small, retried = wav(tmp_path, 9 * 1024 * 1024), wav(tmp_path, 203_000), wav(tmp_path, 204_000)
        refused = wav(tmp_path, 205_000)

        with frozen(weed):
            # An upload streamed to the bucket while it arrives (over 8 MiB): to the spool.
            r, took = timed(lambda: api.upload(big))
            spooled_big = stored(r, big, "spool")
            assert took < UPLOAD_BOUND, took
            # The next one, right after, does not wait out the deadline again.
            r, took = timed(lambda: api.upload(small))
            spooled_small = stored(r, small, "spool")
            assert took < CALL + MARGIN, took

            # A read of a blob in the frozen bucket: 503 with Retry-After, in seconds.
            r, took = timed(lambda: api.get(f"/v1/audio/{kept['id']}/content"))
            assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
            assert r.headers["retry-after"].isdigit()
            assert took < FIRST_BYTE + MARGIN, took
            # So is a rendition, whose source (or made rendition) is in the frozen bucket.
            r, took = timed(lambda: api.get(f"/v1/audio/{kept['id']}/content?format=mp3"))
            assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
            assert took < FIRST_BYTE + CALL + MARGIN, took
            # A spooled one is served from the spool meanwhile.
            r = api.get(f"/v1/audio/{spooled_small['id']}/content")
            assert r.status_code == 200 and sha(r.content) == sha(small)

            # A delete: 204 at once for the client, the blob left to the retry job.
            r, took = timed(lambda: api.http.delete(f"/v1/audio/{doomed['id']}", headers=api.auth))
            assert r.status_code == 204, r.text
            assert took < CALL + MARGIN, took
            assert api.get(f"/v1/audio/{doomed['id']}").status_code == 404
            sent.pop(doomed["id"])

            # An upload whose client gives up while the server waits on the bucket, then
            # retries with the same Idempotency-Key until it gets its answer: stored once.
            # Until the spool shortcut has expired (the service says so), bounded.
            deadline = time.monotonic() + _PRIMARY_COOLDOWN_SECONDS + MARGIN
            while api.get("/v1/info").json()["store"]["spooling_now"] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert api.get("/v1/info").json()["store"]["spooling_now"] is False
            key = {"Idempotency-Key": "frozen-bucket-retry-1"}
            with pytest.raises(httpx.ReadTimeout):
                api.upload(retried, timeout=0.5, **key)
            answers = []
            deadline = time.monotonic() + UPLOAD_BOUND + MARGIN
            for _ in range(60):
                r = api.upload(retried, **key)
                answers.append(r.status_code)
                if r.status_code != 409 or time.monotonic() > deadline:
                    break
                assert r.json()["error"]["code"] == "idempotency_key_in_progress"
                assert r.headers["retry-after"].isdigit()
                time.sleep(0.5)
            once = stored(r, retried, "spool")
            assert r.headers.get("idempotent-replayed") == "true", answers

            # With the spool off, an upload is a 503 in seconds, and nothing is kept.
            strict_key = {"Idempotency-Key": "frozen-bucket-refused-1"}
            r, took = timed(lambda: off.upload(refused, **strict_key))
            assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
            assert r.headers["retry-after"].isdigit()
            assert took < CALL + MARGIN, took
            r, took = timed(lambda: off.get(f"/v1/audio/{strict_kept['id']}/content"))
            assert r.status_code == 503 and took < FIRST_BYTE + MARGIN, (r.status_code, took)

        # The bucket answers again: the spool drains, and the delete is retried by the jobs.
        spooled_ids = {spooled_big["id"], spooled_small["id"], once["id"]}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            where = {i: api.get(f"/v1/audio/{i}").json()["location"] for i in spooled_ids}
            gone = doomed["key"] not in bucket_hashes(weed, spooling_bucket)
            if set(where.values()) == {"primary"} and gone:
                break
            time.sleep(1)
        assert set(where.values()) == {"primary"} and gone, (where, gone)
        # The refused upload's PUT was on its way when its deadline passed, and the bucket
        # may take it once it runs again: its key was handed to `retry_deletes`, and a PUT
        # landing after that delete is an orphan `reconcile` finds (and nothing else is).
        strict_expected = {strict_kept["key"]: sha(sent[strict_kept["id"]])}
        found = 0
        for _ in range(30):
            found += reconcile(strict)["orphan_blobs"]
            if bucket_hashes(weed, strict_bucket) == strict_expected:
                break
            time.sleep(1)
        assert bucket_hashes(weed, strict_bucket) == strict_expected
        assert found <= 1, found
        assert not [p for p in (spooling.data_dir / "spool").rglob("*") if p.is_file()]

        # Nothing lost, nothing doubled: each bucket holds exactly the 201s, byte for byte.
        objects = {i: api.get(f"/v1/audio/{i}").json() for i in sent if i != strict_kept["id"]}
        assert bucket_hashes(weed, spooling_bucket) == {o["key"]: sha(sent[i]) for i, o in objects.items()}
        for object_id, body in sent.items():
            client = off if object_id == strict_kept["id"] else api
            r = client.get(f"/v1/audio/{object_id}/content")
            assert r.status_code == 200 and sha(r.content) == sha(body)
        listed = api.get("/v1/audio?limit=100").json()["items"]
        assert [o["id"] for o in listed if o["sha256"] == sha(retried)] == [once["id"]]
        assert len(listed) == len(objects)
        again = api.upload(retried, **key)
        assert again.status_code == 201 and again.json()["id"] == once["id"]
        assert [o["id"] for o in off.get("/v1/audio?limit=100").json()["items"]] == [strict_kept["id"]]
        # The refused upload's key was freed by its failure: its retry is a fresh store, once.
        r = off.upload(refused, **strict_key)
        fresh = stored(r, refused, "primary")
        assert "idempotent-replayed" not in r.headers
        replay = off.upload(refused, **strict_key)
        assert replay.json()["id"] == fresh["id"] and replay.headers["idempotent-replayed"] == "true"
        assert {o["id"] for o in off.get("/v1/audio?limit=100").json()["items"]} == {strict_kept["id"], fresh["id"]}
        assert bucket_hashes(weed, strict_bucket) == {**strict_expected, fresh["key"]: sha(refused)}
    finally:
        spooling.stop()
        strict.stop()
