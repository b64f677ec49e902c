"""One contract for every blob store (fsspec style): the tests are shared, each backend only
supplies a fixture that yields an empty store. A new store joins by adding one entry."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audiostore.blobstores import BlobNotFound, BlobStore, LocalBlobStore, SignCapableStore
from audiostore.blobstores.s3 import DELETE_BATCH, PART_SIZE, S3BlobStore
from fixtures_seaweedfs import SeaweedFS


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        s: BlobStore = LocalBlobStore(tmp_path / "blobs")
    else:
        weed: SeaweedFS = request.getfixturevalue("seaweedfs")
        s = S3BlobStore(
            bucket=request.getfixturevalue("s3_bucket"), endpoint=weed.endpoint, region=weed.region,
            access_key_id=weed.access_key, secret_access_key=weed.secret_key, allow_http=True,
        )
    try:
        yield s
    finally:
        await s.close()


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


DATA = bytes(range(256)) * 64  # 16 KiB, every byte value


async def _read_all(store: BlobStore, key: str, **kw: int) -> bytes:
    return b"".join([chunk async for chunk in store.get_stream(key, **kw)])


async def test_put_head_get(store: BlobStore, tmp_path: Path) -> None:
    await store.put_file("o/c/2026-01-01/a.wav", _file(tmp_path, "a", DATA), content_type="audio/wav")
    meta = await store.head("o/c/2026-01-01/a.wav")
    assert meta.key == "o/c/2026-01-01/a.wav" and meta.size == len(DATA)
    assert meta.last_modified is not None
    assert await _read_all(store, "o/c/2026-01-01/a.wav") == DATA


async def test_ranges(store: BlobStore, tmp_path: Path) -> None:
    await store.put_file("k.bin", _file(tmp_path, "a", DATA), content_type="audio/wav")
    assert await store.get_range("k.bin", 10, 20) == DATA[10:20]
    assert await _read_all(store, "k.bin", start=100, end=5000) == DATA[100:5000]
    assert await _read_all(store, "k.bin", start=len(DATA) - 7) == DATA[-7:]
    assert await _read_all(store, "k.bin", start=0, end=1) == DATA[:1]


async def test_put_replaces(store: BlobStore, tmp_path: Path) -> None:
    await store.put_file("k.bin", _file(tmp_path, "a", b"first"), content_type="audio/wav")
    await store.put_file("k.bin", _file(tmp_path, "b", b"second!"), content_type="audio/wav")
    assert (await store.head("k.bin")).size == 7
    assert await _read_all(store, "k.bin") == b"second!"


async def test_missing_keys(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.head("nope/missing.wav")
    with pytest.raises(BlobNotFound):
        await store.get_range("nope/missing.wav", 0, 4)
    with pytest.raises(BlobNotFound):
        await _read_all(store, "nope/missing.wav")
    await store.delete_many(["nope/missing.wav"])  # not an error
    await store.delete_many([])


async def test_list_by_prefix(store: BlobStore, tmp_path: Path) -> None:
    src = _file(tmp_path, "a", b"abc")
    for key in ("alice/x/1.wav", "alice/y/2.wav", "bob/x/3.wav"):
        await store.put_file(key, src, content_type="audio/wav")
    assert sorted(m.key for m in [m async for m in store.list("alice/")]) == ["alice/x/1.wav", "alice/y/2.wav"]
    assert len([m async for m in store.list("")]) == 3
    assert [m async for m in store.list("carol/")] == []


async def test_delete_many_across_batches(store: BlobStore, tmp_path: Path) -> None:
    src = _file(tmp_path, "a", b"x")
    keys = [f"d/{i:04d}.wav" for i in range(DELETE_BATCH + 5)]
    kept = "keep/me.wav"
    await store.put_file(kept, src, content_type="audio/wav")
    # Only a few exist; the rest are missing, which must not fail the batch.
    for key in keys[:3] + keys[-3:]:
        await store.put_file(key, src, content_type="audio/wav")
    await store.delete_many(keys)
    assert [m.key async for m in store.list("")] == [kept]


async def test_large_file_round_trip(store: BlobStore, tmp_path: Path) -> None:
    """Bigger than one multipart part: the parts join back into the same bytes."""
    path = tmp_path / "big"
    block = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB
    with path.open("wb") as f:
        for _ in range(PART_SIZE // len(block) + 3):
            f.write(block)
    size = path.stat().st_size
    await store.put_file("big.bin", path, content_type="audio/wav")
    assert (await store.head("big.bin")).size == size
    digest = hashlib.sha256()
    async for chunk in store.get_stream("big.bin"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    tail_start = PART_SIZE - 10
    assert await store.get_range("big.bin", tail_start, tail_start + 20) == path.read_bytes()[tail_start : tail_start + 20]


async def test_sign_capability_is_a_type(store: BlobStore) -> None:
    assert isinstance(store, SignCapableStore) == (store.kind == "s3")
