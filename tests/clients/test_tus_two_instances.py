"""Two real `audiostore serve` processes on one PostgreSQL and one S3 bucket (SeaweedFS),
sharing the tus parts folder: tuspy's PATCHes of one upload alternate between them and the
result is whole and stored once; two PATCHes at once, one on each, cannot both append; a
signed upload URL used on both at once stores one object."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from audio_factory import make_tone
from fixtures_postgres import Postgres
from fixtures_seaweedfs import SeaweedFS
from server_process import ServerProcess

pytestmark = [pytest.mark.s3, pytest.mark.postgres]
CHUNK = 64 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS, postgres: Postgres
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """One pair for the module's tests: each test has an owner of its own (`new_owner_key`)
    and looks only at that owner's objects, so no test sees another's."""
    root = tmp_path_factory.mktemp("tus-pair")
    database = postgres.new_database()
    shared = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))},
        "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": seaweedfs.new_bucket(),
        "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint, "AUDIOSTORE_S3_REGION": seaweedfs.region,
        "AUDIOSTORE_S3_ALLOW_HTTP": "true", "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key, "AUDIOSTORE_DATABASE_URL": database,
        "AUDIOSTORE_SIGNING_SECRETS": "one-secret-for-both", "AUDIOSTORE_SIGNED_URLS": "proxy",
        "AUDIOSTORE_TUS_PARTS_DIR": str(root / "shared-uploads"), "AUDIOSTORE_SWEEP_INTERVAL": "0",
    }
    (root / "a").mkdir()
    (root / "b").mkdir()
    a, b = ServerProcess(root / "a" / "data", env=shared), ServerProcess(root / "b" / "data", env=shared)
    try:
        # One after the other: `a` makes the fresh database's tables before `b` starts.
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()
        postgres.drop_database(database)


def new_owner_key(a: ServerProcess, owner: str) -> str:
    """An API key for `owner`, made with the admin key of `a`."""
    admin = (a.data_dir / "admin.key").read_text().strip()
    r = httpx.post(f"{a.url}/v1/keys", headers={"Authorization": f"Bearer {admin}"}, json={"owner": owner})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["key"])


def stored_blobs(seaweedfs: SeaweedFS, server: ServerProcess, owner: str) -> int:
    """How many blobs the pair's bucket holds for `owner` (keys start `{owner}/`)."""
    bucket = server.env["AUDIOSTORE_S3_BUCKET"]
    listed = seaweedfs.boto3().list_objects_v2(Bucket=bucket, Prefix=f"{owner}/")
    return int(listed.get("KeyCount", 0))


def parts_dir(server: ServerProcess) -> Path:
    """The tus parts folder the pair shares."""
    return Path(server.env["AUDIOSTORE_TUS_PARTS_DIR"])


def on(server: ServerProcess, url: str) -> str:
    return server.url + url[url.index("/v1/"):]


def test_patches_alternate_between_instances_and_store_once(
    pair: tuple[ServerProcess, ServerProcess], tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    a, b = pair
    key = new_owner_key(a, "alice-alternating")
    wav = make_tone(tmp_path / "take.wav", "wav", seconds=6.0, channels=2)
    client = tus_client.TusClient(f"{a.url}/v1/uploads", headers={"Authorization": f"Bearer {key}"})
    up = Uploader(str(wav), client=client, chunk_size=CHUNK, upload_checksum=True, metadata={"name": "take.wav"})
    up.set_url(up.create_url())
    turns = 0
    while up.offset < up.get_file_size():
        up.url = on((a, b)[turns % 2], up.url)  # every other PATCH to the other instance
        up.upload_chunk()
        turns += 1
    assert turns > 4
    audio_id = up.request.response_headers["audiostore-audio-id"]
    auth = {"Authorization": f"Bearer {key}"}
    got = httpx.get(f"{a.url}/v1/audio/{audio_id}/content", headers=auth)
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(wav.read_bytes()).hexdigest()
    listed = httpx.get(f"{b.url}/v1/audio", headers=auth).json()["items"]
    assert [i["id"] for i in listed] == [audio_id]
    assert stored_blobs(seaweedfs, a, "alice-alternating") == 1
    # The other instance's HEAD names the stored object too.
    head = httpx.head(on(b, up.url), headers={**TUS, **auth})
    assert head.headers["audiostore-audio-id"] == audio_id


def test_two_patches_on_two_instances_cannot_both_append(
    pair: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = pair
    key = new_owner_key(a, "alice-racing-patches")
    data = make_tone(tmp_path / "t.wav", "wav", seconds=6.0, channels=2).read_bytes()
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    made = httpx.post(f"{a.url}/v1/uploads", headers={**auth, "Upload-Length": str(len(data))})
    loc = made.headers["location"]
    headers = {**auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    started = threading.Event()
    results: dict[str, int] = {}

    def slow_body() -> Iterator[bytes]:
        for i in range(0, 100_000, 10_000):
            yield data[i:i + 10_000]
            started.set()
            time.sleep(0.1)

    def slow() -> None:
        results["a"] = httpx.patch(a.url + loc, content=slow_body(), headers=headers, timeout=30).status_code

    t = threading.Thread(target=slow)
    t.start()
    assert started.wait(10)
    time.sleep(0.3)
    results["b"] = httpx.patch(b.url + loc, content=data[:30_000], headers=headers, timeout=30).status_code
    t.join(timeout=30)
    assert results == {"a": 204, "b": 423}, results
    head = httpx.head(b.url + loc, headers=auth)
    assert head.headers["upload-offset"] == "100000"


def test_a_signed_upload_url_is_used_once_across_instances(
    pair: tuple[ServerProcess, ServerProcess], tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    a, b = pair
    key = new_owner_key(a, "alice-signed-url")
    data = make_tone(tmp_path / "s.wav", "wav", seconds=3.0).read_bytes()
    issued = httpx.post(f"{a.url}/v1/audio/upload-url", headers={"Authorization": f"Bearer {key}"}, json={}).json()
    statuses: list[int] = []

    def put(server: ServerProcess) -> None:
        statuses.append(httpx.put(on(server, issued["url"]), content=data, timeout=30).status_code)

    threads = [threading.Thread(target=put, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) == [201, 410], statuses
    assert stored_blobs(seaweedfs, a, "alice-signed-url") == 1
