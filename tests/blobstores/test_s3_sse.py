"""Server-side encryption (`AUDIOSTORE_S3_SSE`, `AUDIOSTORE_S3_SSE_KMS_KEY_ID`) against a real
SeaweedFS with SSE on: SSE-S3 (`AES256`, a KEK) and SSE-KMS (its `local` KMS provider).

Both a one-request blob and a multipart one (three 8 MiB parts) go in through settings, come
back byte-exact whole and by range (through the store and a presigned URL), are reported
encrypted by boto3 from the outside, and their bytes are not in weed's files in the clear.
What the server cannot do fails as BlobStoreUnavailable with nothing written.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from audiostore.blobstores import BlobNotFound, BlobStoreUnavailable
from audiostore.blobstores.s3 import PART_SIZE, S3BlobStore
from audiostore.settings import Settings
from audiostore.settings import check_settings
from fixtures_seaweedfs import LOCAL_KMS_KEY, SeaweedFS, seaweedfs_sse  # noqa: F401

pytestmark = pytest.mark.s3

CASES = {"sse-s3": ("AES256", None), "sse-kms": ("aws:kms", LOCAL_KMS_KEY)}
BIG = 2 * PART_SIZE + 12345  # three parts, the last one short


def _settings(tmp_path: Path, weed: SeaweedFS, bucket: str, **kw: object) -> Settings:
    settings = Settings(
        data_dir=tmp_path / "data", store="s3", s3_bucket=bucket, s3_endpoint=weed.endpoint,
        s3_region=weed.region, s3_access_key_id=weed.access_key,
        s3_secret_access_key=weed.secret_key, s3_allow_http=True, **kw,  # type: ignore[arg-type]
    )
    check_settings(settings)
    return settings


@pytest.fixture(params=list(CASES))
async def sse_case(
    request: pytest.FixtureRequest, seaweedfs_sse: SeaweedFS, tmp_path: Path
) -> AsyncIterator[tuple[S3BlobStore, str, str | None]]:
    sse, kms_key = CASES[request.param]
    bucket = seaweedfs_sse.new_bucket()
    store = S3BlobStore.from_settings(_settings(
        tmp_path, seaweedfs_sse, bucket, s3_sse=sse, s3_sse_kms_key_id=kms_key))
    try:
        yield store, sse, kms_key
    finally:
        await store.close()


def _random_file(path: Path, size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


def _marked(marker: bytes) -> bytes:
    noise = random.Random(marker).randbytes(16 * 1024)
    return b"".join(noise[i : i + 1024] + marker for i in range(0, len(noise), 1024))


def _scan(root: Path, markers: dict[str, bytes]) -> dict[str, bool]:
    """Which markers occur in any file under `root` (read in chunks that overlap)."""
    found = dict.fromkeys(markers, False)
    overlap = max(len(m) for m in markers.values())
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            tail = b""
            while chunk := f.read(4 * 1024 * 1024):
                window, tail = tail + chunk, (tail + chunk)[-overlap:]
                for name, marker in markers.items():
                    found[name] |= marker in window
    return found


async def _read(store: S3BlobStore, key: str, **kw: int) -> bytes:
    return b"".join([chunk async for chunk in store.get_stream(key, **kw)])


async def test_encrypted_blobs_read_back_byte_exact(
    sse_case: tuple[S3BlobStore, str, str | None], seaweedfs_sse: SeaweedFS, tmp_path: Path
) -> None:
    store, sse, kms_key = sse_case
    outside = seaweedfs_sse.boto3()
    for name, size in (("small", 64 * 1024), ("multipart", BIG)):
        data = _random_file(tmp_path / name, size, seed=size)
        key = f"o/c/2026-01-01/{name}.wav"
        await store.put_file(key, tmp_path / name, content_type="audio/wav")

        head = outside.head_object(Bucket=store.bucket, Key=key)
        assert head["ServerSideEncryption"] == sse, (name, head)
        assert head["ContentLength"] == size and head["ContentType"] == "audio/wav"
        if kms_key:
            assert head.get("SSEKMSKeyId"), head  # SeaweedFS reports the key the alias names

        assert (await store.head(key)).size == size
        whole = await _read(store, key)
        assert len(whole) == size and hashlib.sha256(whole).digest() == hashlib.sha256(data).digest()
        mid = size // 2
        assert await store.get_range(key, mid - 100, mid + 100) == data[mid - 100 : mid + 100]
        assert await _read(store, key, start=size - 7) == data[-7:]
        if size > PART_SIZE:  # ranges that cross the part boundaries
            for edge in (PART_SIZE, 2 * PART_SIZE):
                assert await store.get_range(key, edge - 5, edge + 5) == data[edge - 5 : edge + 5]
            got = await _read(store, key, start=PART_SIZE - 1000, end=2 * PART_SIZE + 1000)
            assert got == data[PART_SIZE - 1000 : 2 * PART_SIZE + 1000]

        # A plain HTTP client with the presigned URL: the server decrypts, Range still works.
        url = await store.sign_get(key, expires_in=120)
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.get(url, headers={"Range": f"bytes={mid - 8}-{mid + 7}"})
        assert r.status_code == 206 and r.content == data[mid - 8 : mid + 8]


@pytest.mark.parametrize("case", list(CASES))
async def test_encrypted_bytes_are_not_on_disk_in_the_clear(
    case: str, seaweedfs_sse: SeaweedFS, tmp_path: Path
) -> None:
    sse, kms_key = CASES[case]
    bucket = seaweedfs_sse.new_bucket()
    secret_marker = f"SECRET-{case}-{random.getrandbits(64):016x}".encode()
    plain_marker = f"PLAIN-{case}-{random.getrandbits(64):016x}".encode()
    # Random bytes around the markers, so weed finds nothing to compress.
    secret = _marked(secret_marker)
    (tmp_path / "secret").write_bytes(secret)
    (tmp_path / "plain").write_bytes(_marked(plain_marker))
    encrypted = S3BlobStore.from_settings(_settings(
        tmp_path, seaweedfs_sse, bucket, s3_sse=sse, s3_sse_kms_key_id=kms_key))
    plain = S3BlobStore.from_settings(_settings(tmp_path, seaweedfs_sse, bucket))
    await encrypted.put_file("secret.wav", tmp_path / "secret", content_type="audio/wav")
    await plain.put_file("plain.wav", tmp_path / "plain", content_type="audio/wav")
    assert await _read(encrypted, "secret.wav") == secret

    # The SSE server's data dir holds only SSE tests' blobs: volumes, the filer's store.
    found = _scan(seaweedfs_sse.data_dir, {"secret": secret_marker, "plain": plain_marker})
    assert found["plain"], "the unencrypted control blob is not found either: the scan is wrong"
    assert not found["secret"], "the SSE blob's bytes are on disk in the clear"


async def test_what_seaweedfs_refuses_fails_cleanly_and_writes_nothing(
    seaweedfs: SeaweedFS, s3_bucket: str, seaweedfs_sse: SeaweedFS, tmp_path: Path
) -> None:
    _random_file(tmp_path / "x", 4096, seed=1)
    # SSE-S3 on a SeaweedFS without a KEK (no `s3.sse.kek`): the server answers 500.
    no_kek = S3BlobStore.from_settings(_settings(tmp_path, seaweedfs, s3_bucket, s3_sse="AES256"))
    with pytest.raises(BlobStoreUnavailable):
        await no_kek.put_file("a.wav", tmp_path / "x", content_type="audio/wav")
    with pytest.raises(BlobNotFound):
        await no_kek.head("a.wav")
    # SSE-KMS with no key id: AWS would use its aws/s3 key; SeaweedFS has no default and refuses.
    bucket = seaweedfs_sse.new_bucket()
    no_key = S3BlobStore.from_settings(_settings(tmp_path, seaweedfs_sse, bucket, s3_sse="aws:kms"))
    with pytest.raises(BlobStoreUnavailable):
        await no_key.put_file("b.wav", tmp_path / "x", content_type="audio/wav")
    with pytest.raises(BlobNotFound):
        await no_key.head("b.wav")
