"""S3 + PostgreSQL checked from the outside: boto3 and a plain HTTP client against the real
SeaweedFS the service writes to, in both signing modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from conftest import Api, backend_settings_s3, make_api
from fixtures_seaweedfs import SeaweedFS

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


async def _api(tmp_path: Path, seaweedfs: SeaweedFS, bucket: str, db: str, mode: str) -> AsyncIterator[Api]:
    a, runtime = await make_api(
        backend_settings_s3(tmp_path, seaweedfs, bucket, db, signed_urls=mode, auth_cache_seconds=0)
    )
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


@pytest.fixture
async def direct(tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str) -> AsyncIterator[Api]:
    async for a in _api(tmp_path, seaweedfs, s3_bucket, postgres_url, "direct"):
        yield a


@pytest.fixture
async def proxy(tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str) -> AsyncIterator[Api]:
    async for a in _api(tmp_path, seaweedfs, s3_bucket, postgres_url, "proxy"):
        yield a


def _head(seaweedfs: SeaweedFS, bucket: str, key: str) -> dict | None:
    try:
        return seaweedfs.boto3().head_object(Bucket=bucket, Key=key)  # type: ignore[no-any-return]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


async def test_blob_lands_at_its_key_with_its_content_type(
    direct: Api, seaweedfs: SeaweedFS, s3_bucket: str, tones: dict[str, Path]
) -> None:
    for fmt, content_type in (("wav", "audio/wav"), ("mp3", "audio/mpeg")):
        obj = (await direct.upload(tones[fmt], collection="takes")).json()
        assert obj["key"].startswith("alice/takes/") and obj["key"].endswith(f".{fmt}")
        head = _head(seaweedfs, s3_bucket, obj["key"])
        assert head is not None
        assert head["ContentType"] == content_type == obj["content_type"]
        assert head["ContentLength"] == tones[fmt].stat().st_size
        body = seaweedfs.boto3().get_object(Bucket=s3_bucket, Key=obj["key"])["Body"].read()
        assert body == tones[fmt].read_bytes()


async def test_direct_presigned_url_serves_ranges_and_rejects_tampering(
    direct: Api, seaweedfs: SeaweedFS, s3_bucket: str, tones: dict[str, Path]
) -> None:
    obj = (await direct.upload(tones["wav"])).json()
    r = await direct.http.post(f"/v1/audio/{obj['id']}/url", headers=direct.alice, json={"expires_in": 300})
    assert r.status_code == 200
    url = r.json()["url"]
    assert url.startswith(f"{seaweedfs.endpoint}/{s3_bucket}/{obj['key']}?")
    assert "X-Amz-Signature" in parse_qs(urlsplit(url).query)
    data = tones["wav"].read_bytes()
    async with httpx.AsyncClient(timeout=30) as plain:  # no auth header at all
        whole = await plain.get(url)
        assert whole.status_code == 200 and whole.content == data
        part = await plain.get(url, headers={"Range": "bytes=100-1123"})
        assert part.status_code == 206 and part.content == data[100:1124]
        assert part.headers["content-range"] == f"bytes 100-1123/{len(data)}"

        sig = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        assert (await plain.get(url.replace(sig, flipped))).status_code == 403
        longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")
        assert (await plain.get(longer)).status_code == 403


async def test_direct_batch_urls_are_presigned(direct: Api, tones: dict[str, Path]) -> None:
    a = (await direct.upload(tones["wav"])).json()
    b = (await direct.upload(tones["flac"])).json()
    r = await direct.http.post("/v1/urls", headers=direct.alice, json={"ids": [a["id"], b["id"]], "expires_in": 60})
    urls = [u["url"] for u in r.json()["urls"]]
    async with httpx.AsyncClient(timeout=30) as plain:
        for url, path in zip(urls, (tones["wav"], tones["flac"]), strict=True):
            assert (await plain.get(url)).content == path.read_bytes()


async def test_direct_batch_urls_end_with_their_objects(direct: Api, tones: dict[str, Path]) -> None:
    """One batch, two lifetimes: the object that expires in 120 s gets a presigned URL that
    ends by then; the one kept for good gets the lifetime asked for."""
    kept = (await direct.upload(tones["wav"])).json()
    brief = (await direct.upload(tones["flac"], ttl_seconds=120)).json()
    r = await direct.http.post("/v1/urls", headers=direct.alice,
                               json={"ids": [brief["id"], kept["id"], brief["id"]], "expires_in": 3600})
    urls = r.json()["urls"]
    lifetimes = [int(parse_qs(urlsplit(u["url"]).query)["X-Amz-Expires"][0]) for u in urls]
    assert lifetimes[1] == 3600
    assert 0 < lifetimes[0] <= 120 and lifetimes[2] == lifetimes[0]
    assert urls[0]["expires_at"] <= brief["expires_at"].replace("+00:00", "Z")
    async with httpx.AsyncClient(timeout=30) as plain:
        assert (await plain.get(urls[0]["url"])).content == tones["flac"].read_bytes()


async def test_direct_authenticated_content_redirects_to_presigned(
    direct: Api, seaweedfs: SeaweedFS, tones: dict[str, Path]
) -> None:
    obj = (await direct.upload(tones["wav"])).json()
    r = await direct.http.get(f"/v1/audio/{obj['id']}/content", headers=direct.alice)
    assert r.status_code == 307
    location = r.headers["location"]
    assert location.startswith(seaweedfs.endpoint) and "X-Amz-Signature" in location
    async with httpx.AsyncClient(timeout=30) as plain:
        got = await plain.get(location, headers={"Range": "bytes=0-43"})
    assert got.status_code == 206 and got.content == tones["wav"].read_bytes()[:44]
    # Another owner still gets 404, never a redirect.
    assert (await direct.http.get(f"/v1/audio/{obj['id']}/content", headers=direct.bob)).status_code == 404


async def test_proxy_streams_ranges_through_the_service(
    proxy: Api, seaweedfs: SeaweedFS, tones: dict[str, Path]
) -> None:
    obj = (await proxy.upload(tones["mp3"])).json()
    data = tones["mp3"].read_bytes()
    r = await proxy.http.get(f"/v1/audio/{obj['id']}/content", headers={**proxy.alice, "Range": "bytes=10-99"})
    assert r.status_code == 206 and r.content == data[10:100]
    assert r.headers["content-range"] == f"bytes 10-99/{len(data)}"
    assert r.headers["content-type"].startswith("audio/mpeg")
    signed = (await proxy.http.post(f"/v1/audio/{obj['id']}/url", headers=proxy.alice, json={})).json()["url"]
    assert signed.startswith("http://testserver/v1/audio/")  # a service URL, not the bucket's
    got = await proxy.http.get(signed.removeprefix("http://testserver"), headers={"Range": "bytes=-16"})
    assert got.status_code == 206 and got.content == data[-16:]


async def test_deleted_objects_blob_is_gone(
    direct: Api, seaweedfs: SeaweedFS, s3_bucket: str, tones: dict[str, Path]
) -> None:
    obj = (await direct.upload(tones["wav"])).json()
    url = (await direct.http.post(f"/v1/audio/{obj['id']}/url", headers=direct.alice, json={})).json()["url"]
    assert _head(seaweedfs, s3_bucket, obj["key"]) is not None
    assert (await direct.http.delete(f"/v1/audio/{obj['id']}", headers=direct.alice)).status_code == 204
    assert _head(seaweedfs, s3_bucket, obj["key"]) is None
    assert await direct.row_count() == 0
    async with httpx.AsyncClient(timeout=30) as plain:
        assert (await plain.get(url)).status_code == 404


async def test_rejected_upload_writes_nothing_to_the_bucket(
    direct: Api, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path
) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + b"\x00" * 100)
    r = await direct.upload(fake)
    assert r.status_code in (415, 422)
    listed = seaweedfs.boto3().list_objects_v2(Bucket=s3_bucket)
    assert listed.get("KeyCount", 0) == 0
    assert await direct.row_count() == 0


async def test_direct_rendition_redirects_to_a_presigned_url_of_the_rendition(
    direct: Api, tones: dict[str, Path], tmp_path: Path
) -> None:
    import av

    obj = (await direct.upload(tones["wav"])).json()
    r = await direct.http.get(f"/v1/audio/{obj['id']}/content", headers=direct.alice, params={"format": "mp3"})
    assert r.status_code == 307, r.text
    async with httpx.AsyncClient(timeout=30) as plain:
        got = await plain.get(r.headers["location"])
        part = await plain.get(r.headers["location"], headers={"Range": "bytes=0-99"})
    assert got.status_code == 200 and part.status_code == 206 and part.content == got.content[:100]
    path = tmp_path / "r.mp3"
    path.write_bytes(got.content)
    with av.open(str(path)) as c:
        assert c.streams.audio[0].codec_context.name.startswith("mp3")
    # A signed URL for the rendition opens that rendition, and no other.
    signed = await direct.http.post(
        f"/v1/audio/{obj['id']}/url", headers=direct.alice, json={"expires_in": 60, "format": "mp3"}
    )
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    if url.startswith("http://testserver"):  # a service URL: streamed through the service
        fetched = await direct.http.get(url.removeprefix("http://testserver"))
    else:  # the bucket's own presigned URL
        async with httpx.AsyncClient(timeout=30) as plain:
            fetched = await plain.get(url)
    assert fetched.status_code == 200 and fetched.content == got.content
    assert "format=mp3" in url or "mp3" in urlsplit(url).path
