"""A batch of presigned URLs is exactly what obstore signs, and the bucket serves every one."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest

from audiostore.blobstores.s3 import S3BlobStore
from audiostore.blobstores.sigv4_batch import sign_like_first
from fixtures_seaweedfs import SeaweedFS

ADDRESSING = [
    {"endpoint": "http://127.0.0.1:8333", "path_style": True},
    {"endpoint": "http://b.example:8333", "path_style": False},
    {"endpoint": "https://acct.r2.cloudflarestorage.com", "path_style": True, "region": "auto"},
    {"path_style": True},
    {"path_style": False},
]
PLAIN_KEYS = [f"alice/default/2026-12-01/0193-{i:04d}.wav" for i in range(40)]


def _same_second(store: S3BlobStore, keys: list[str], seconds: int) -> tuple[list[str], list[str]]:
    """Ours and obstore's for the same keys, signed within one second (the URLs carry it)."""
    for _ in range(5):
        start = int(time.time())
        ours = list(obstore_sign_get_many(store, keys, seconds))
        theirs = list(obstore.sign(store._store, "GET", keys, timedelta(seconds=seconds)))
        if int(time.time()) == start:
            return ours, theirs
    raise AssertionError("never signed within one second")


def obstore_sign_get_many(store: S3BlobStore, keys: list[str], seconds: int) -> Any:
    import asyncio

    return asyncio.run(store.sign_get_many(keys, expires_in=seconds))


@pytest.mark.parametrize("addressing", ADDRESSING)
def test_a_batch_is_what_obstore_signs(addressing: dict[str, Any]) -> None:
    store = S3BlobStore(bucket="my-audio", access_key_id="AKIA", secret_access_key="sekret",
                        allow_http=True, **{"region": "eu-west-1", **addressing})
    ours, theirs = _same_second(store, PLAIN_KEYS, 600)
    assert ours == theirs
    # Keys that need escaping in a path, or that obstore refuses or folds (`.`, `..`, `//`, a
    # leading `/`), go to obstore whole: the same URLs, or the same refusal, as before.
    odd = ["a b/ü.wav", "x/./y.wav", "x/../y.wav", "a+b.wav", "a//b.wav", "/lead.wav"]
    for key in odd:
        assert sign_like_first([PLAIN_KEYS[0], key], "sekret", lambda k: "unused") is None
    ours, theirs = _same_second(store, [PLAIN_KEYS[0], "a b/ü.wav", "a+b.wav", "/lead.wav"], 600)
    assert ours == theirs


def test_a_signature_this_code_cannot_reproduce_sends_the_batch_to_obstore() -> None:
    store = S3BlobStore(bucket="b", access_key_id="AKIA", secret_access_key="sekret")
    first = obstore.sign(store._store, "GET", PLAIN_KEYS[0], timedelta(seconds=60))
    # Another secret than the one obstore signed with: the check on the first key fails.
    assert sign_like_first(PLAIN_KEYS, "other", lambda k: first) is None
    # A query this code does not know (a session token) is never copied.
    token = first.replace("&X-Amz-Signature=", "&X-Amz-Security-Token=t&X-Amz-Signature=")
    assert sign_like_first(PLAIN_KEYS, "sekret", lambda k: token) is None
    assert sign_like_first(PLAIN_KEYS, "sekret", lambda k: first)[0] == first  # type: ignore[index]


async def test_the_bucket_serves_every_url_of_a_batch(
    seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    store = S3BlobStore(bucket=s3_bucket, endpoint=seaweedfs.endpoint, region=seaweedfs.region,
                        access_key_id=seaweedfs.access_key, secret_access_key=seaweedfs.secret_key,
                        allow_http=True)
    keys = [f"alice/batch/{i}.wav" for i in range(3)]
    for i, key in enumerate(keys):
        src = tmp_path / f"{i}.bin"
        src.write_bytes(bytes([i]) * (100 + i))
        await store.put_file(key, src, content_type="audio/wav")
    urls = await store.sign_get_many(keys, expires_in=120)
    async with httpx.AsyncClient(timeout=30) as plain:
        for i, url in enumerate(urls):
            got = await plain.get(url)
            assert got.status_code == 200 and got.content == bytes([i]) * (100 + i)
        # A URL of the batch does not open another key, nor with a changed signature.
        moved = urls[1].replace(keys[1], keys[2])
        assert (await plain.get(moved)).status_code == 403
        sig = urls[2][-1]
        assert (await plain.get(urls[2][:-1] + ("0" if sig != "0" else "1"))).status_code == 403
    await store.close()
